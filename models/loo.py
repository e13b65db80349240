"""Leave-one-out cross-validation (PSIS-LOO, Vehtari, Gelman & Gabry 2017) with Pareto-k diagnostics.

A Pareto k above 0.7 means the importance-sampling estimate for that observation is unreliable: the observation
is influential enough that the posterior without it differs a lot from the full posterior (an outlier, or a
flexible model). ArviZ 0.23 also reports its sample-size-dependent threshold ``good_k = min(1 - 1/log10(S), 0.7)``
(Vehtari et al. 2024), which is 0.7 for S >= 2154 draws; both are in the summary.

Several observed variables (e.g. Track B's ``x_observed`` and ``y``): name one with ``var_name``, or leave it
``None`` to use every observed variable, concatenated into one "observation" dimension (leave-one-observation-out
over all of them; elpd is then the sum of the per-variable elpds). To compare outcome models, name the outcome
(``var_name="y"``): the alliance imputation model is the same in both and only adds noise to the difference.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

K_THRESHOLD = 0.7
# dims whose coordinate labels carry participant ids (as reanalysis.diagnostics.PARTICIPANT_DIMS): labelled by
# position ("#3") so that no id reaches a table, a figure or the report
HIDDEN_DIMS = ("participant", "alliance_obs", "alliance_missing", "baseline_missing", "y_obs")
POINTWISE_COLUMNS = ["label", "elpd_loo_i", "pareto_k", "high_k"]
COMPARE_COLUMNS = ["model", "rank", "elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight", "warning"]


def _coord_labels(da: xr.DataArray, hidden: tuple[str, ...]) -> list[str]:
    """One label per observation ("level" or "level1,level2"), in the order of ``da.stack`` over the non-sample dims.

    Levels of a ``hidden`` dim are replaced by their 1-based position, "#3".
    """
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        return [""]
    levels = [
        [f"#{j + 1}" for j in range(da.sizes[d])] if d in hidden else [str(v) for v in da[d].values] for d in dims
    ]
    return [",".join(levels[k][i] for k, i in enumerate(index)) for index in np.ndindex(*(len(lv) for lv in levels))]


def pointwise_idata(
    idata: az.InferenceData, var_name: str | None = None, hidden_dims: tuple[str, ...] = HIDDEN_DIMS
) -> tuple[az.InferenceData, list[str]]:
    """InferenceData with one log-likelihood variable ("pointwise", dims chain, draw, observation) and labels.

    ``var_name`` picks one observed variable; ``None`` concatenates all of them (labels ``var[coord]``). Labels
    come from the coordinates, by position for ``hidden_dims`` (participant ids).
    """
    if "log_likelihood" not in idata.groups():
        raise ValueError("idata has no log_likelihood group (pm.compute_log_likelihood adds it)")
    ll = idata.log_likelihood
    names = list(ll.data_vars) if var_name is None else [var_name]
    missing = [n for n in names if n not in ll]
    if missing:
        raise ValueError(f"log_likelihood has no variable {missing[0]!r}; it has {list(ll.data_vars)}")
    parts, labels = [], []
    for name in names:
        da = ll[name]
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        flat = da.stack(observation=dims) if dims else da.expand_dims("observation", axis=-1)
        parts.append(flat.transpose("chain", "draw", "observation").values)
        coord = _coord_labels(da, hidden_dims)
        labels += [(f"{name}[{c}]" if c else name) if len(names) > 1 else (c or name) for c in coord]
    values = np.concatenate(parts, axis=-1)
    out = az.InferenceData(
        posterior=idata.posterior,
        log_likelihood=xr.Dataset(
            {"pointwise": (("chain", "draw", "observation"), values)},
            coords={"chain": ll["chain"].values, "draw": ll["draw"].values, "observation": np.arange(len(labels))},
        ),
    )
    return out, labels


def loo_table(
    idata: az.InferenceData,
    obs_labels: list[str] | None = None,
    var_name: str | None = None,
    k_threshold: float = K_THRESHOLD,
    reff: float | None = None,
) -> tuple[dict, pd.DataFrame]:
    """PSIS-LOO summary and one row per observation (label, elpd_loo_i, pareto_k, high_k = k > k_threshold).

    Summary: elpd_loo, se, p_loo, n_data_points, n_samples, n_high_k, good_k (ArviZ's threshold), warning
    (True when any k exceeds ``k_threshold`` or ArviZ warned). ``obs_labels`` replaces the coordinate labels
    (which show participant dims by position only, see :data:`HIDDEN_DIMS`); keep ids out of them. ``reff``: the
    relative ESS ``az.loo`` would compute from the posterior when it is not given (about 0.2 s per fit there).
    """
    data, labels = pointwise_idata(idata, var_name)
    if obs_labels is not None:
        if len(obs_labels) != len(labels):
            raise ValueError(f"{len(obs_labels)} obs_labels for {len(labels)} observations")
        labels = list(obs_labels)
    with warnings.catch_warnings():  # ArviZ's high-k warning: reported per observation below instead
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        res = az.loo(data, pointwise=True, var_name="pointwise", reff=reff)
    k = np.asarray(res.pareto_k, float)
    high = k > k_threshold
    summary = {
        "elpd_loo": float(res.elpd_loo),
        "se": float(res.se),
        "p_loo": float(res.p_loo),
        "n_data_points": int(res.n_data_points),
        "n_samples": int(res.n_samples),
        "n_high_k": int(high.sum()),
        "good_k": float(res.good_k),
        "warning": bool(high.any() or res.warning),
    }
    pointwise = pd.DataFrame(
        {"label": labels, "elpd_loo_i": np.asarray(res.loo_i, float), "pareto_k": k, "high_k": high},
        columns=POINTWISE_COLUMNS,
    )
    return summary, pointwise


def compare(
    idatas: dict[str, az.InferenceData],
    var_name: str | None = None,
    method: str = "stacking",
    reff: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Models ranked by elpd_loo (az.compare): difference from the best with its SE (dse) and stacking weights.

    Every model must be fitted to the same observations; ``var_name`` as in :func:`pointwise_idata`. An
    ``elpd_diff`` smaller than about 2 x ``dse`` (or than 4 in absolute terms) does not separate the models.
    ``reff``: each model's relative ESS, as in :func:`loo_table`.
    """
    if len(idatas) < 2:
        raise ValueError(f"compare needs at least two models; got {list(idatas)}")
    prepared = {}
    for name, idata in idatas.items():
        prepared[name] = pointwise_idata(idata, var_name)[0]
    sizes = {name: d.log_likelihood.sizes["observation"] for name, d in prepared.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"models have different numbers of observations: {sizes}")
    with warnings.catch_warnings():  # high k shows in the "warning" column; loo_table names the observations
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        if reff is not None:  # az.compare takes LOO results as they are; it would compute reff for an idata
            prepared = {
                name: az.loo(d, pointwise=True, var_name="pointwise", reff=reff[name]) for name, d in prepared.items()
            }
        table = az.compare(prepared, ic="loo", method=method, var_name="pointwise")
    table = table.rename_axis("model").reset_index()
    return table[COMPARE_COLUMNS]
