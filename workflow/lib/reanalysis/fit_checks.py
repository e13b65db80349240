"""Per-model Bayesian workflow checks on stored fits: prior sensitivity, LOO, prior predictive summaries.

Each function takes {prior set: InferenceData} of one model and returns a tidy table with a ``prior_set``
column, so the report can join them over models. Which quantities are checked comes from models.reported.
"""

from __future__ import annotations

import arviz as az
import pandas as pd

from models import loo, prior_predictive, sensitivity
from models.reported import reported
from reanalysis.convergence import relative_ess

# The observed variable whose predictions LOO scores: the published statistics, the follow-up outcome, and
# the alliance ratings of the trajectory model.
LOO_VARIABLE = {"published": "obs", "outcome": "y", "alliance": "x_observed"}


def _with_prior_set(table: pd.DataFrame, prior_set: str) -> pd.DataFrame:
    return table.assign(prior_set=prior_set)[["prior_set", *table.columns]]


def sensitivity_tables(fits: dict[str, az.InferenceData], kind: str) -> pd.DataFrame:
    """Power-scaling sensitivity of the reported parameters, perturbing the priors a prior set controls."""
    parts = []
    for prior_set, idata in fits.items():
        controlled = [v for v in idata.attrs.get("prior_set_variables", "").split(",") if v]
        table = sensitivity.sensitivity_table(
            idata, reported(idata.posterior.data_vars, kind), prior_var_names=controlled or None
        )
        parts.append(_with_prior_set(table, prior_set))
    return pd.concat(parts, ignore_index=True)


def loo_tables(fits: dict[str, az.InferenceData], kind: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PSIS-LOO summary per prior set, and Pareto k per observation (high-k ones flagged)."""
    summaries, pointwise = [], []
    for prior_set, idata in fits.items():
        summary, points = loo.loo_table(idata, var_name=LOO_VARIABLE[kind], reff=relative_ess(idata.posterior))
        summaries.append({"prior_set": prior_set, **summary})
        pointwise.append(_with_prior_set(points, prior_set))
    return pd.DataFrame(summaries), pd.concat(pointwise, ignore_index=True)


def compare_variant(main: az.InferenceData, variant: az.InferenceData, names: tuple[str, str], kind: str):
    """elpd_loo of the main model against its variant (same observations), ranked, with stacking weights."""
    reff = {names[0]: relative_ess(main.posterior), names[1]: relative_ess(variant.posterior)}
    return loo.compare({names[0]: main, names[1]: variant}, var_name=LOO_VARIABLE[kind], reff=reff)


def no_variant() -> pd.DataFrame:
    """The comparison table of a model without a variant: the header only."""
    return pd.DataFrame(columns=loo.COMPARE_COLUMNS)


def prior_predictive_tables(fits: dict[str, az.InferenceData], kind: str, scale: dict | None) -> pd.DataFrame:
    """What each prior set implies before the data: correlations (Track A), slopes in outcome points against the
    MCID and range (Track B outcome; ``scale`` = the outcome's spec), mean ratings against the alliance scale
    (alliance model; ``scale`` = the alliance spec).
    """
    parts = []
    for prior_set, idata in fits.items():
        if kind == "published":
            table = prior_predictive.rho_prior_summary(idata)
        elif kind == "outcome":
            table = prior_predictive.slope_prior_summary(idata, scale)
        else:
            table = prior_predictive.scale_prior_summary(idata, scale["min"], scale["max"])
        parts.append(_with_prior_set(table, prior_set))
    return pd.concat(parts, ignore_index=True)
