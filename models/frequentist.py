"""The published-style analysis of participant data: one test per alliance timepoint x follow-up (numpy/scipy).

For every alliance timepoint a and follow-up t of one outcome, as in the published papers: the Pearson
correlation of alliance at a with the outcome at t, and the ordinary least squares regression of the outcome at t
on baseline severity and alliance at a (each alliance timepoint on its own, unlike the Bayesian outcome model,
whose slopes are adjusted for the other alliance timepoints). p values are adjusted over the family of all
a x t tests of the outcome (Bonferroni and Holm).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from models.participant import CohortData


def ols(y: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray | float]:
    """OLS of y on an intercept and the columns of X (n x k), by least squares.

    Returns ``coef``, ``se``, ``t``, ``p`` (two-sided), each of length k + 1 with the intercept first, plus the
    residual degrees of freedom ``df`` = n - k - 1 and the residual variance ``sigma2``. SEs are the classical
    ones, sqrt(diag(sigma2 (X'X)^-1)).
    """
    y = np.asarray(y, float)
    design = np.column_stack([np.ones(len(y)), np.asarray(X, float).reshape(len(y), -1)])
    n, k1 = design.shape
    df = n - k1
    if df < 1:
        raise ValueError(f"ols: {n} cases for {k1} coefficients; need at least {k1 + 1}")
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    sigma2 = float(resid @ resid / df)
    se = np.sqrt(sigma2 * np.diag(np.linalg.inv(design.T @ design)))
    t = coef / se
    return {"coef": coef, "se": se, "t": t, "p": 2.0 * stats.t.sf(np.abs(t), df), "df": df, "sigma2": sigma2}


def bonferroni(p) -> np.ndarray:
    """Bonferroni-adjusted p, min(1, m p), over the non-missing entries (m = their number); NaN stays NaN."""
    p = np.asarray(p, float)
    m = np.isfinite(p).sum()
    return np.minimum(1.0, p * m)


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p over the non-missing entries; NaN stays NaN.

    With p sorted ascending, p_adj(j) = max over i <= j of min(1, (m - i + 1) p(i)), returned in input order.
    """
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m:
        order = idx[np.argsort(p[idx], kind="stable")]
        adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
        out[order] = adj
    return out


COLUMNS = [
    "outcome", "alliance_time", "followup", "n_r", "r", "p_r", "n", "slope_points", "se", "t", "df", "p",
    "partial_r", "partial_r2", "baseline_coef", "alliance_sd", "p_bonferroni", "p_holm", "p_r_bonferroni", "p_r_holm",
]  # fmt: skip


def per_timepoint(df: pd.DataFrame, spec: dict, outcome: str) -> pd.DataFrame:
    """Published-style tests of one outcome from the long participant table; one row per alliance time x follow-up.

    Columns:

    * ``outcome``, ``alliance_time``, ``followup``: the cell.
    * ``n_r``, ``r``, ``p_r``: Pearson r of alliance at ``alliance_time`` with the outcome at ``followup`` on the
      participants with both values (pairwise complete cases), and its two-sided p.
    * ``n``: participants with baseline, alliance and follow-up all observed (the regression's complete cases).
    * ``slope_points``, ``se``, ``t``, ``df``, ``p``: OLS of the follow-up outcome on baseline and alliance; the
      alliance coefficient times the SD (ddof=1) of alliance in those n cases (outcome points per SD of
      alliance), its SE on the same scale, t, residual df = n - 3 and two-sided p.
    * ``partial_r``, ``partial_r2``: partial correlation of alliance and outcome given baseline,
      t / sqrt(t^2 + df), and its square (the share of the outcome variance left after baseline that alliance
      explains). Its t test with n - 3 df is the same test as the OLS t (same p).
    * ``baseline_coef``: the baseline coefficient (outcome points per baseline point).
    * ``alliance_sd``: the SD of alliance used for ``slope_points``.
    * ``p_bonferroni``, ``p_holm``: OLS p adjusted over all alliance times x follow-ups of this outcome;
      ``p_r_bonferroni``, ``p_r_holm``: the same for ``p_r``.

    Cells with fewer than 4 complete cases (or 3 pairs for r, or no variation) get NaN statistics.
    """
    data = CohortData.from_long(df, spec, outcome)
    rows = []
    for a, a_name in enumerate(data.alliance_timepoints):
        for t, t_name in enumerate(data.followups):
            x, y, b = data.alliance[:, a], data.followup[:, t], data.baseline
            row = {"outcome": outcome, "alliance_time": a_name, "followup": t_name}
            pair = np.isfinite(x) & np.isfinite(y)
            row["n_r"] = int(pair.sum())
            row["r"] = row["p_r"] = np.nan
            if pair.sum() >= 3 and np.ptp(x[pair]) > 0 and np.ptp(y[pair]) > 0:
                res = stats.pearsonr(x[pair], y[pair])
                row["r"], row["p_r"] = float(res.statistic), float(res.pvalue)
            cc = pair & np.isfinite(b)
            row["n"] = int(cc.sum())
            for col in [
                "slope_points",
                "se",
                "t",
                "df",
                "p",
                "partial_r",
                "partial_r2",
                "baseline_coef",
                "alliance_sd",
            ]:
                row[col] = np.nan
            if cc.sum() >= 4 and np.ptp(x[cc]) > 0 and np.ptp(b[cc]) > 0:
                fit = ols(y[cc], np.column_stack([b[cc], x[cc]]))
                sd = float(np.std(x[cc], ddof=1))
                tval, dfree = float(fit["t"][2]), fit["df"]
                row.update(
                    slope_points=float(fit["coef"][2]) * sd,
                    se=float(fit["se"][2]) * sd,
                    t=tval,
                    df=dfree,
                    p=float(fit["p"][2]),
                    partial_r=tval / np.sqrt(tval**2 + dfree),
                    partial_r2=tval**2 / (tval**2 + dfree),
                    baseline_coef=float(fit["coef"][1]),
                    alliance_sd=sd,
                )
            rows.append(row)
    out = pd.DataFrame(rows)
    out["p_bonferroni"], out["p_holm"] = bonferroni(out["p"]), holm(out["p"])
    out["p_r_bonferroni"], out["p_r_holm"] = bonferroni(out["p_r"]), holm(out["p_r"])
    return out[COLUMNS]
