"""Posterior summaries and threshold probabilities of the quantities the report shows.

Track A reports correlations (rho_*); Track B reports alliance slopes in outcome points per SD of alliance
(slope_*) and the alliance trajectory (alliance_change*). Which set a fit has is read from its posterior.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

from models.predictive import PPC_COLUMNS, published_ppc
from reanalysis.convergence import ess_bulk, rhat_ess

HDI_PROB = 0.94
SUMMARY_COLUMNS = [
    "model", "prior_set", "parameter", "labels", "mean", "sd", "median", "hdi_low", "hdi_high", "r_hat",
    "ess_bulk", "ess_tail",
]  # fmt: skip
THRESHOLD_COLUMNS = ["model", "prior_set", "parameter", "labels", "threshold", "kind", "value", "probability", "mcse"]


PARTICIPANT_VARIABLES = [
    "slope_mean_points", "slope_points", "slope_std", "slope_mcid", "alliance_change", "alliance_change_d",
]  # fmt: skip


def reported_variables(idata: az.InferenceData) -> list[str]:
    """Track A: correlations (pooled, by level, by row) and scales; Track B: slopes and alliance change."""
    names = list(idata.posterior.data_vars)
    if "rho_pooled" not in names:
        return [v for v in PARTICIPANT_VARIABLES if v in names]
    rho = ["rho_pooled"] + sorted(
        n for n in names if n.startswith("rho_") and n not in ("rho_pooled", "rho_cell", "rho_row")
    )
    return rho + ["rho_cell", "rho_row", "mu"] + sorted(n for n in names if n.startswith("sigma_"))


def _scalars(idata: az.InferenceData, var: str):
    """(parameter label, labels text, flat draws, position) for every scalar of a posterior variable."""
    da = idata.posterior[var]
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        yield var, "", da.values, {}
        return
    for index in np.ndindex(*(da.sizes[d] for d in dims)):
        levels = [str(da[d].values[i]) for d, i in zip(dims, index, strict=True)]
        labels = ", ".join(f"{d}={lv}" for d, lv in zip(dims, levels, strict=True))
        position = dict(zip(dims, index, strict=True))
        yield f"{var}[{','.join(levels)}]", labels, da.isel(position).values, position


def posterior_summary(
    idata: az.InferenceData, model: str, prior_set: str, row_labels: dict | None = None
) -> pd.DataFrame:
    names = reported_variables(idata)
    post = idata.posterior[names]
    scalars = [(var, *scalar) for var in names for scalar in _scalars(idata, var)]
    # R-hat and ESS of every scalar in one call (reanalysis.convergence: ArviZ's arithmetic, whole-array)
    stats = rhat_ess(np.stack([draws for *_, draws, _ in scalars])) if scalars else {}
    hdi = az.hdi(post, hdi_prob=HDI_PROB)
    rows = []
    for i, (var, parameter, labels, draws, position) in enumerate(scalars):
        if row_labels and labels.startswith("row="):
            labels = f"{labels} ({row_labels[labels[4:]]})"
        flat = draws.ravel()  # the summaries pool chains; R-hat and ESS above keep them apart
        low, high = hdi[var].isel(position).values
        rows.append({
            "model": model, "prior_set": prior_set, "parameter": parameter, "labels": labels,
            "mean": flat.mean(), "sd": flat.std(ddof=1), "median": np.median(flat),
            "hdi_low": low, "hdi_high": high, **{k: float(v[i]) for k, v in stats.items()},
        })  # fmt: skip
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def exceeds(draws: np.ndarray, kind: str, value: float) -> np.ndarray:
    if kind == "below":
        return draws < value
    if kind == "above":
        return draws > value
    if kind == "abs_above":
        return np.abs(draws) > value
    raise ValueError(f"threshold kind {kind!r}; expected below, above or abs_above")


def participant_threshold_probabilities(
    idata: az.InferenceData, thresholds: list[dict], mcid: float, model: str, prior_set: str
) -> pd.DataFrame:
    """P(slope < fraction x MCID) per SD of alliance, for the mean slope and every slope_points cell."""
    points = [{"label": t["label"], "kind": "below", "value": t["mcid_fraction"] * mcid} for t in thresholds]
    return _probabilities(idata, ["slope_mean_points", "slope_points"], points, model, prior_set)


def threshold_probabilities(
    idata: az.InferenceData, thresholds: list[dict], model: str, prior_set: str
) -> pd.DataFrame:
    """P(threshold) for the pooled rho and every group level's rho, with its Monte Carlo SE."""
    variables = [v for v in reported_variables(idata) if v.startswith("rho_") and v not in ("rho_cell", "rho_row")]
    return _probabilities(idata, variables, thresholds, model, prior_set)


def _probabilities(idata, variables, thresholds, model, prior_set) -> pd.DataFrame:
    rows, hits = [], []
    for var in [v for v in variables if v in idata.posterior]:
        for parameter, labels, draws, _ in _scalars(idata, var):
            for t in thresholds:
                hits.append(exceeds(draws, t["kind"], t["value"]).astype(float))
                rows.append({
                    "model": model, "prior_set": prior_set, "parameter": parameter, "labels": labels,
                    "threshold": t["label"], "kind": t["kind"], "value": t["value"], "probability": hits[-1].mean(),
                })  # fmt: skip
    # the MC standard error of each probability from the bulk ESS of its indicator (az.ess's default), all at once
    ess = ess_bulk(np.stack(hits)) if hits else np.empty(0)
    for row, hit, n_eff in zip(rows, hits, ess, strict=True):
        p = row["probability"]
        row["mcse"] = float(np.sqrt(p * (1 - p) / (n_eff if 0 < p < 1 else hit.size)))
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)


CONTRAST_COLUMNS = ["model", "prior_set", "contrast", "median", "hdi_low", "hdi_high", "p_more_negative"]


def level_contrasts(idata: az.InferenceData, group: str, model: str, prior_set: str) -> pd.DataFrame:
    """rho[level] - rho[first level] for every other level of ``group``, with P(difference < 0).

    For alliance phases the first level is preparation, so P(difference < 0) is the probability that
    alliance in that phase goes with a *stronger* benefit than alliance before dosing.
    """
    da = idata.posterior[f"rho_{group}"]
    levels = [str(v) for v in da[group].values]
    base = da.sel({group: levels[0]}).values.ravel()
    rows = []
    for level in levels[1:]:
        diff = da.sel({group: level}).values.ravel() - base
        hdi = az.hdi(diff, hdi_prob=HDI_PROB)
        rows.append({
            "model": model, "prior_set": prior_set, "contrast": f"{level} − {levels[0]}",
            "median": float(np.median(diff)), "hdi_low": hdi[0], "hdi_high": hdi[1],
            "p_more_negative": float((diff < 0).mean()),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)


# one fit's tables, joined over fits by the summarise job; empty ones keep their header
FIT_TABLES = {
    "posterior_summary": SUMMARY_COLUMNS + ["track"],
    "threshold_probabilities": THRESHOLD_COLUMNS + ["track"],
    "contrasts": CONTRAST_COLUMNS,
    "ppc": PPC_COLUMNS,
}


def fit_tables(
    idata: az.InferenceData,
    row_labels: dict,
    observations: pd.DataFrame | None,
    thresholds: list[dict],
    participant_thresholds: list[dict],
    seed: int,
) -> dict[str, pd.DataFrame]:
    """The tables of :data:`FIT_TABLES` for one fit. ``row_labels``: row_id -> text of the main model's published
    rows; ``observations``: the fit's own published rows (Track A, for its PPC; None for Track B)."""
    model, prior = idata.attrs["model"], idata.attrs["prior_set"]
    track = idata.attrs.get("track", "published")
    tables = {name: pd.DataFrame(columns=columns) for name, columns in FIT_TABLES.items()}
    tables["posterior_summary"] = posterior_summary(idata, model, prior, row_labels).assign(track=track)
    if track == "published":
        probs = threshold_probabilities(idata, thresholds, model, prior)
        tables["threshold_probabilities"] = probs.assign(track=track)
        tables["contrasts"] = level_contrasts(idata, "alliance_phase", model, prior)
        rho = idata.posterior["rho_row"].sel(row=observations["row_id"].astype(str).tolist())
        draws = rho.stack(s=("chain", "draw")).transpose("row", "s").values
        tables["ppc"] = published_ppc(draws, observations, seed, model, prior)
    elif "slope_points" in idata.posterior:
        mcid = float(idata.attrs["mcid"])
        probs = participant_threshold_probabilities(idata, participant_thresholds, mcid, model, prior)
        tables["threshold_probabilities"] = probs.assign(track=track)
    return tables
