"""Figures of Track A. Each function takes loaded data and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in a pipeline job
import arviz as az  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

PRIOR_COLOURS = ["#1b6ca8", "#c0392b", "#27864a", "#8e44ad", "#d68910", "#5d6d7e"]
HDI_PROB = 0.94
RHO_GRID = np.linspace(-0.995, 0.995, 799)


def rho_density(draws: np.ndarray, grid: np.ndarray = RHO_GRID) -> np.ndarray:
    """Density of rho on ``grid`` from a KDE on z = atanh(rho) (no boundary bias at +-1)."""
    z = np.arctanh(np.clip(np.ravel(draws), -0.999999, 0.999999))
    return stats.gaussian_kde(z)(np.arctanh(grid)) / (1.0 - grid**2)


def _row_label(row: pd.Series) -> str:
    return f"{row['row_id']}  {row['study']} · {row['alliance_phase']} → {row['outcome']} @ {row['outcome_timepoint']}"


def forest(idata_by_prior: dict[str, az.InferenceData], obs: pd.DataFrame, subtitle: str) -> plt.Figure:
    """rho of every published row under each prior set (median, 94% HDI), with what was published."""
    n_rows, priors = len(obs), list(idata_by_prior)
    fig, ax = plt.subplots(figsize=(11, 0.5 * n_rows + 1.8))
    y = np.arange(n_rows)[::-1].astype(float)
    for i, (_, row) in enumerate(obs.iterrows()):
        if row["kind"] == "point":
            ax.plot(row["r_obs"], y[i], marker="D", color="black", ms=6, zorder=5)
        else:
            for lo, hi in [(row["r_lo1"], row["r_hi1"]), (row["r_lo2"], row["r_hi2"])]:
                if hi > lo:
                    ax.add_patch(plt.Rectangle((lo, y[i] - 0.42), hi - lo, 0.84, color="0.85", zorder=0))
    offsets = np.linspace(-0.25, 0.25, len(priors)) if len(priors) > 1 else [0.0]
    for k, prior in enumerate(priors):
        draws = idata_by_prior[prior].posterior["rho_row"].sel(row=obs["row_id"].astype(str).tolist())
        flat = draws.stack(s=("chain", "draw")).values  # row x sample
        hdi = np.array([az.hdi(flat[j], hdi_prob=HDI_PROB) for j in range(n_rows)])
        med = np.median(flat, axis=1)
        colour = PRIOR_COLOURS[k % len(PRIOR_COLOURS)]
        ax.errorbar(med, y + offsets[k], xerr=[med - hdi[:, 0], hdi[:, 1] - med], fmt="o", ms=4, color=colour,
                    elinewidth=1.5, capsize=0, label=f"{prior}: posterior median, 94% HDI")  # fmt: skip
    ax.plot([], [], marker="D", ls="", color="black", label="published r")
    ax.add_patch(plt.Rectangle((0, 0), 0, 0, color="0.85", label="range of r the published statistic allows"))
    ax.axvline(0, color="0.4", lw=0.8, ls=":")
    ax.set_yticks(y, [_row_label(r) for _, r in obs.iterrows()], fontsize=8)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-0.8, n_rows - 0.2)
    ax.set_xlabel(
        "ρ: correlation of alliance with later symptom severity (negative = stronger alliance, fewer symptoms)"
    )
    ax.set_title(f"Alliance–outcome correlation of every published result\n{subtitle}", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.35, -0.1), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def densities(idata_by_prior: dict[str, az.InferenceData], group: str, subtitle: str) -> plt.Figure:
    """Top: pooled rho, prior (dashed) beneath posterior, per prior set. Bottom: rho by ``group`` level."""
    priors = list(idata_by_prior)
    fig, axes = plt.subplots(2, len(priors), figsize=(3.6 * len(priors), 6), sharex=True, squeeze=False)
    for k, prior in enumerate(priors):
        idata, colour = idata_by_prior[prior], PRIOR_COLOURS[k % len(PRIOR_COLOURS)]
        top, bottom = axes[0, k], axes[1, k]
        top.fill_between(RHO_GRID, rho_density(idata.prior["rho_pooled"].values), color="0.8", label="prior")
        top.plot(RHO_GRID, rho_density(idata.posterior["rho_pooled"].values), color=colour, lw=2, label="posterior")
        top.set_title(f"{prior}: pooled ρ", fontsize=10)
        levels = idata.posterior[f"rho_{group}"][group].values
        for j, level in enumerate(levels):
            draws = idata.posterior[f"rho_{group}"].sel({group: level}).values
            bottom.plot(RHO_GRID, rho_density(draws), lw=1.6, color=plt.cm.viridis(j / max(len(levels) - 1, 1)),
                        label=str(level))  # fmt: skip
        bottom.set_title(f"{prior}: ρ by {group.replace('_', ' ')}", fontsize=10)
        for ax in (top, bottom):
            ax.axvline(0, color="0.4", lw=0.8, ls=":")
            ax.set_yticks([])
        bottom.set_xlabel("ρ (alliance × later severity)")
    axes[0, 0].legend(fontsize=8, frameon=False, loc="upper left")
    axes[1, 0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(f"Posterior of ρ under each prior set, prior shaded beneath\n{subtitle}", fontsize=11)
    fig.tight_layout()
    return fig


def save(fig: plt.Figure, path: str) -> None:
    # fixed metadata keeps the PNG bytes reproducible across runs
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
