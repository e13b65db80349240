"""Posterior summaries and threshold probabilities of the correlations the report shows."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd

HDI_PROB = 0.94
SUMMARY_COLUMNS = [
    "model", "prior_set", "parameter", "labels", "mean", "sd", "median", "hdi_low", "hdi_high", "r_hat",
    "ess_bulk", "ess_tail",
]  # fmt: skip
THRESHOLD_COLUMNS = ["model", "prior_set", "parameter", "labels", "threshold", "kind", "value", "probability", "mcse"]


def reported_variables(idata: az.InferenceData) -> list[str]:
    """Correlations (pooled, by group level, by row) and heterogeneity scales, in report order."""
    names = list(idata.posterior.data_vars)
    rho = ["rho_pooled"] + sorted(
        n for n in names if n.startswith("rho_") and n not in ("rho_pooled", "rho_cell", "rho_row")
    )
    return rho + ["rho_cell", "rho_row", "mu"] + sorted(n for n in names if n.startswith("sigma_"))


def _scalars(idata: az.InferenceData, var: str):
    """(parameter label, labels text, flat draws) for every scalar of a posterior variable."""
    da = idata.posterior[var]
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        yield var, "", da.values
        return
    (dim,) = dims  # every reported variable has at most one dim
    for level in da[dim].values:
        yield f"{var}[{level}]", f"{dim}={level}", da.sel({dim: level}).values


def posterior_summary(
    idata: az.InferenceData, model: str, prior_set: str, row_labels: dict | None = None
) -> pd.DataFrame:
    rows = []
    for var in reported_variables(idata):
        for parameter, labels, draws in _scalars(idata, var):
            if row_labels and labels.startswith("row="):
                labels = f"{labels} ({row_labels[labels[4:]]})"
            flat = draws.ravel()  # draws keep (chain, draw) for R-hat and ESS; the rest pools chains
            hdi = az.hdi(flat, hdi_prob=HDI_PROB)
            rows.append({
                "model": model, "prior_set": prior_set, "parameter": parameter, "labels": labels,
                "mean": flat.mean(), "sd": flat.std(ddof=1), "median": np.median(flat),
                "hdi_low": hdi[0], "hdi_high": hdi[1], "r_hat": float(az.rhat(draws)),
                "ess_bulk": float(az.ess(draws, method="bulk")), "ess_tail": float(az.ess(draws, method="tail")),
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


def threshold_probabilities(
    idata: az.InferenceData, thresholds: list[dict], model: str, prior_set: str
) -> pd.DataFrame:
    """P(threshold) for the pooled rho and every group level's rho, with its Monte Carlo SE."""
    rows = []
    variables = [v for v in reported_variables(idata) if v.startswith("rho_") and v not in ("rho_cell", "rho_row")]
    for var in variables:
        for parameter, labels, draws in _scalars(idata, var):
            for t in thresholds:
                hit = exceeds(draws, t["kind"], t["value"]).astype(float)
                p = hit.mean()
                ess = float(az.ess(hit)) if 0 < p < 1 else float(hit.size)
                rows.append({
                    "model": model, "prior_set": prior_set, "parameter": parameter, "labels": labels,
                    "threshold": t["label"], "kind": t["kind"], "value": t["value"], "probability": p,
                    "mcse": float(np.sqrt(p * (1 - p) / ess)),
                })  # fmt: skip
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
