"""Prior predictive summaries: what each prior set says before seeing data, in units a reader can judge.

Track A: the prior draws of the correlations (``rho_pooled``, ``rho_<group>``, ``rho_row``: tanh of the linear
predictor on z, see models/published.py) and the sample r each published row would show under the prior
(simulated exactly, models/predictive.simulate_r). A prior that puts much mass on |rho| > 0.8 (default
``plausible``) claims that near-deterministic alliance-outcome links are common, which no psychotherapy
literature supports; note that wide priors on z push mass to +-1 (tanh saturates).

Track B: the prior of the alliance slope in outcome points per SD of alliance (``slope_points``,
``slope_mean_points``, models/participant.py), against the instrument's MCID and range: the share of prior draws
whose slope is within one MCID per SD, and the share whose implied change across ``alliance_span_sd`` SDs of
alliance (default 4: from -2 SD to +2 SD, about the range of a sample) fits inside the scale's range.

Every function takes prior draws (an InferenceData with a ``prior`` group, or that group as an xarray Dataset)
plus plain numbers, so it can be checked on constructed draws without fitting.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from models.predictive import simulate_r

PLAUSIBLE_RHO = 0.8
QUANTILES = (0.025, 0.25, 0.5, 0.75, 0.975)
RHO_VARIABLES = ("rho_pooled", "rho_study", "rho_row")
SLOPE_VARIABLES = ("slope_mean_points", "slope_points")


def _quantile_columns(probs) -> list[str]:
    return [f"q{100 * p:g}" for p in probs]


def _prior_group(prior) -> xr.Dataset:
    if isinstance(prior, az.InferenceData):
        if "prior" not in prior.groups():
            raise ValueError("InferenceData has no prior group (models.sampling.sample_prior adds it)")
        return prior.prior
    return prior


def _draws_by_level(da: xr.DataArray, by_level: bool):
    """(level label, flat draws): all elements pooled as "all", or one per element."""
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        yield "", da.values.ravel()
        return
    if not by_level:
        yield "all", da.values.ravel()
        return
    for index in np.ndindex(*(da.sizes[d] for d in dims)):
        label = ",".join(str(da[d].values[i]) for d, i in zip(dims, index, strict=True))
        yield label, da.isel(dict(zip(dims, index, strict=True))).values.ravel()


def rho_prior_summary(
    prior,
    var_names: tuple[str, ...] = RHO_VARIABLES,
    plausible: float = PLAUSIBLE_RHO,
    by_level: bool = False,
    probs: tuple[float, ...] = QUANTILES,
) -> pd.DataFrame:
    """Implied prior of each correlation: quantiles, P(|rho| <= plausible), P(rho < 0).

    One row per variable (levels pooled, level "all") or, with ``by_level``, per level. Variables absent from
    the prior (e.g. a grouping term not in the model) are skipped.
    """
    ds = _prior_group(prior)
    rows = []
    for name in [v for v in var_names if v in ds]:
        for level, draws in _draws_by_level(ds[name], by_level):
            rows.append({
                "quantity": name, "level": level, "n_draws": draws.size,
                "share_plausible": float(np.mean(np.abs(draws) <= plausible)),
                "share_negative": float(np.mean(draws < 0)),
                **dict(zip(_quantile_columns(probs), np.quantile(draws, probs), strict=True)),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=["quantity", "level", "n_draws", "share_plausible", "share_negative",
                                       *_quantile_columns(probs)])  # fmt: skip


def prior_predictive_r(
    prior,
    n_eff: np.ndarray,
    seed: int,
    var_name: str = "rho_row",
    plausible: float = PLAUSIBLE_RHO,
    probs: tuple[float, ...] = QUANTILES,
) -> pd.DataFrame:
    """Per published row: the sample r the prior predicts at that row's n_eff (one simulated r per prior draw).

    ``n_eff`` is in the order of the variable's row dimension. Returns row, n_eff, P(|r| <= plausible), quantiles.
    """
    da = _prior_group(prior)[var_name]
    row_dim = next(d for d in da.dims if d not in ("chain", "draw"))
    rho = da.transpose(row_dim, ...).values.reshape(da.sizes[row_dim], -1)
    n_eff = np.asarray(n_eff, float)
    if n_eff.shape != (rho.shape[0],):
        raise ValueError(f"n_eff has shape {n_eff.shape}; expected one value per {row_dim} ({rho.shape[0]})")
    r = simulate_r(rho, n_eff[:, None], np.random.default_rng(seed))
    q = np.quantile(r, probs, axis=1).T
    out = pd.DataFrame({
        "row": [str(v) for v in da[row_dim].values], "n_eff": n_eff,
        "share_plausible": np.mean(np.abs(r) <= plausible, axis=1),
    })  # fmt: skip
    return pd.concat([out, pd.DataFrame(q, columns=_quantile_columns(probs))], axis=1)


def slope_prior_summary(
    prior,
    outcome: dict,
    var_names: tuple[str, ...] = SLOPE_VARIABLES,
    alliance_span_sd: float = 4.0,
    by_level: bool = False,
    probs: tuple[float, ...] = QUANTILES,
) -> pd.DataFrame:
    """Implied prior of the alliance slope (outcome points per SD of alliance) against the outcome's MCID and range.

    ``outcome`` is the instrument's spec from config (``min``, ``max``, ``mcid``). Columns: quantiles of the slope
    in points; ``share_within_mcid`` = P(|slope| <= MCID); ``share_within_range`` = P(|alliance_span_sd x slope|
    <= max - min), i.e. the change across the alliance span fits on the scale; ``median_abs_mcid`` = median
    |slope| / MCID.
    """
    missing = [k for k in ("min", "max", "mcid") if k not in outcome]
    if missing:
        raise ValueError(f"outcome spec has no {missing}; expected min, max and mcid")
    ds = _prior_group(prior)
    absent = [v for v in var_names if v not in ds]
    if absent:
        raise ValueError(f"prior has no variable(s) {absent}; it has {list(ds.data_vars)}")
    width, mcid = float(outcome["max"] - outcome["min"]), float(outcome["mcid"])
    rows = []
    for name in var_names:
        for level, draws in _draws_by_level(ds[name], by_level):
            rows.append({
                "quantity": name, "level": level, "n_draws": draws.size, "mcid": mcid, "range": width,
                "share_within_mcid": float(np.mean(np.abs(draws) <= mcid)),
                "share_within_range": float(np.mean(np.abs(alliance_span_sd * draws) <= width)),
                "median_abs_mcid": float(np.median(np.abs(draws)) / mcid),
                **dict(zip(_quantile_columns(probs), np.quantile(draws, probs), strict=True)),
            })  # fmt: skip
    columns = ["quantity", "level", "n_draws", "mcid", "range", "share_within_mcid", "share_within_range",
               "median_abs_mcid", *_quantile_columns(probs)]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def scale_prior_summary(
    prior, lower: float, upper: float, var_names: tuple[str, ...] = ("theta",), probs: tuple[float, ...] = QUANTILES
) -> pd.DataFrame:
    """Implied prior of a raw-scale mean (e.g. the alliance trajectory's theta) against the instrument's range.

    ``share_within_range`` = P(lower <= draw <= upper): a prior that puts mean ratings off the scale is too wide.
    """
    ds = _prior_group(prior)
    rows = []
    for name in [v for v in var_names if v in ds]:
        for level, draws in _draws_by_level(ds[name], True):
            rows.append({
                "quantity": name, "level": level, "n_draws": draws.size, "lower": lower, "upper": upper,
                "share_within_range": float(np.mean((draws >= lower) & (draws <= upper))),
                **dict(zip(_quantile_columns(probs), np.quantile(draws, probs), strict=True)),
            })  # fmt: skip
    columns = ["quantity", "level", "n_draws", "lower", "upper", "share_within_range", *_quantile_columns(probs)]
    return pd.DataFrame(rows, columns=columns)
