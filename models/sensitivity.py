"""Power-scaling prior and likelihood sensitivity (Kallioinen, Paananen, Bürkner & Vehtari 2023, priorsense).

Raise the prior (or the likelihood) to a power alpha near 1, reweight the existing posterior draws by
p^(alpha - 1) with Pareto-smoothed importance sampling, and measure how far each marginal posterior moves: the
derivative, in log2(alpha), of the cumulative Jensen-Shannon distance between the base and the power-scaled
posterior (finite difference at alpha = 1/(1 + delta) and 1 + delta). ArviZ 0.23 implements exactly this as
``az.psens``; this module feeds it and labels the result the way priorsense does.

What is power-scaled matters. ``az.psens`` sums every variable of the ``log_prior`` group (or the subset named),
each evaluated on the constrained scale without Jacobian (``pm.compute_log_prior`` removes the value
transforms), as priorsense expects. In a non-centred hierarchy the standard-normal offsets are structure, not a
prior choice; priorsense/brms power-scale only the priors a user sets (brms leaves the ``z_`` offsets out of
``lprior``). :func:`prior_set_variables` picks those for this project's models: the free variables whose prior
depends on a ``prior_*`` data container, i.e. the ones a prior set in config.yaml controls.

Known ArviZ 0.23.4 quirk: ``az.psens`` ignores its ``coords`` and ``component_coords`` arguments (the code tests
``if coords is None`` before selecting), so subsets are chosen here by variable name only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

if TYPE_CHECKING:  # PyMC only where a model is at hand: the workflow-check jobs read stored draws and skip its ~3 s
    import pymc as pm

THRESHOLD = 0.05  # priorsense's default: sensitivity >= 0.05 is "sensitive"
DIAGNOSES = ("prior-data conflict", "strong prior / weak likelihood", "-")
SENSITIVITY_COLUMNS = ["parameter", "prior_sensitivity", "likelihood_sensitivity", "diagnosis"]


def add_log_prior(
    idata: az.InferenceData,
    model: pm.Model,
    var_names: list[str] | None = None,
    compile_kwargs: dict | None = None,
) -> az.InferenceData:
    """Add (or replace) the ``log_prior`` group: elementwise log prior density of each free variable per draw.

    Uses ``pm.compute_log_prior`` (constrained scale, no Jacobian). ``var_names`` defaults to every free
    variable; :func:`sensitivity_table` chooses which of them to power-scale, so keeping all is harmless.
    ``compile_kwargs`` go to PyTensor (e.g. ``{"mode": "NUMBA"}`` as in models.sampling).
    """
    import pymc as pm

    if "log_prior" in idata.groups():
        del idata.log_prior
    return pm.compute_log_prior(
        idata, var_names=var_names, model=model, extend_inferencedata=True, progressbar=False,
        compile_kwargs=compile_kwargs,
    )  # fmt: skip


def prior_set_variables(model: pm.Model, prefix: str = "prior_") -> list[str]:
    """Free variables whose prior parameters depend on a data container named ``prefix*`` (a prior set's priors).

    The search stops at other random variables, so e.g. ``x_missing ~ Normal(theta_x, sigma_x)`` does not count
    although ``theta_x``'s prior depends on ``prior_theta_sd``. Standard-normal offsets have none. Returns []
    for a model without such containers (then power-scale all priors, or name them).
    """
    from pytensor.graph.traversal import ancestors

    hyper = {v for name, v in model.named_vars.items() if name.startswith(prefix) and v in model.data_vars}
    free = list(model.free_RVs)
    out = []
    for rv in free:
        params = rv.owner.inputs
        if hyper & set(ancestors(params, blockers=[v for v in free if v is not rv])):
            out.append(rv.name)
    return out


def diagnose(prior: float, likelihood: float, threshold: float = THRESHOLD) -> str:
    """priorsense's label: both sensitive -> conflict; only the prior -> strong prior / weak likelihood; else "-"."""
    if prior >= threshold and likelihood >= threshold:
        return DIAGNOSES[0]
    if prior >= threshold:
        return DIAGNOSES[1]
    return DIAGNOSES[2]


def _as_dataset(result) -> xr.Dataset:
    # az.psens returns a DataArray when var_names names a single variable
    return result.to_dataset() if isinstance(result, xr.DataArray) else result


def _scalars(ds: xr.Dataset):
    """(label, value) for every element, labelled name[level,...] as in reanalysis.summaries."""
    for name, da in ds.data_vars.items():
        if not da.dims:
            yield name, float(da)
            continue
        for index in np.ndindex(*da.shape):
            levels = [str(da[d].values[i]) for d, i in zip(da.dims, index, strict=True)]
            yield f"{name}[{','.join(levels)}]", float(da.values[index])


def sensitivity_table(
    idata: az.InferenceData,
    var_names: list[str],
    prior_var_names: list[str] | None = None,
    likelihood_var_names: list[str] | None = None,
    threshold: float = THRESHOLD,
    delta: float = 0.01,
) -> pd.DataFrame:
    """Prior and likelihood power-scaling sensitivity of every scalar of ``var_names``, with priorsense's label.

    ``idata`` needs ``posterior``, ``log_likelihood`` and ``log_prior`` (:func:`add_log_prior`).
    ``prior_var_names`` selects the priors to power-scale jointly (default: all of ``log_prior``; for this
    project's models pass :func:`prior_set_variables`); ``likelihood_var_names`` the observed variables (default:
    all, summed). Both perturbations reuse the same draws, so the table costs seconds, not refits.
    """
    for group in ("posterior", "log_likelihood", "log_prior"):
        if group not in idata.groups():
            raise ValueError(f"idata has no {group!r} group" + ("; call add_log_prior" if group == "log_prior" else ""))
    for names, group in ((prior_var_names, "log_prior"), (likelihood_var_names, "log_likelihood")):
        if names is not None and (not names or any(n not in idata[group] for n in names)):
            have = list(idata[group].data_vars)
            raise ValueError(f"{list(names)}: expected a non-empty subset of the {group} variables {have}")
    common = {"var_names": list(var_names), "delta": delta}
    prior = _as_dataset(az.psens(idata, component="prior", component_var_names=prior_var_names, **common))
    lik = _as_dataset(az.psens(idata, component="likelihood", component_var_names=likelihood_var_names, **common))
    lik_values = dict(_scalars(lik))
    rows = []
    for label, p in _scalars(prior):
        lk = lik_values[label]
        rows.append({
            "parameter": label, "prior_sensitivity": p, "likelihood_sensitivity": lk,
            "diagnosis": diagnose(p, lk, threshold),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS)
