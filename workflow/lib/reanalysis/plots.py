"""Figures of Track A. Each function takes loaded data and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in a pipeline job
import textwrap  # noqa: E402

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
    return gaussian_kde(z, np.arctanh(grid)) / (1.0 - grid**2)


def gaussian_kde(x: np.ndarray, at: np.ndarray, bins: int = 2**13) -> np.ndarray:
    """scipy's Gaussian KDE of ``x`` (Scott's bandwidth) at the points ``at``, by binning and an FFT convolution.

    The exact sum costs draws x points (8,000 x 799 per curve, about 0.05 s; a figure job draws tens of curves);
    this costs about 1 ms and differs from it by about 1e-5 of the peak (tests). Draws more than 8 bandwidths
    beyond the points weigh less than exp(-32) there and are left out of the bins, not out of the count.
    """
    x = np.asarray(x, dtype=float)
    n, h = x.size, stats.gaussian_kde(x).factor * np.std(x, ddof=1)  # the bandwidth scipy uses
    lo, hi = at.min() - 8.0 * h, at.max() + 8.0 * h
    delta = (hi - lo) / (bins - 1)
    pos = (x[(x >= lo) & (x <= hi)] - lo) / delta
    left = np.minimum(np.floor(pos).astype(int), bins - 2)
    right_share = pos - left  # linear binning: each draw split between its two neighbouring bins
    counts = np.bincount(left, 1.0 - right_share, bins) + np.bincount(left + 1, right_share, bins)
    offsets = np.arange(2 * bins)
    offsets = np.where(offsets < bins, offsets, offsets - 2 * bins) * delta  # zero-padded, circular kernel
    kernel = np.exp(-0.5 * (offsets / h) ** 2) / (h * np.sqrt(2.0 * np.pi) * n)
    density = np.fft.irfft(np.fft.rfft(counts, 2 * bins) * np.fft.rfft(kernel), 2 * bins)[:bins]
    return np.interp(at, lo + delta * np.arange(bins), density)


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
    # The layout is final here (tight_layout or subplots_adjust ran). tight_layout leaves a placeholder layout
    # engine behind, and with any engine set savefig draws the whole figure once more before rendering it (about
    # 0.1 s of a 0.35 s save). Fixed metadata keeps the PNG bytes reproducible across runs.
    fig.set_layout_engine(None)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def _wrap(title: str, width: int) -> str:
    return "\n".join(textwrap.wrap(title, width))


def mark_synthetic(fig: plt.Figure) -> None:
    """Stamp a figure made from synthetic data so that it cannot be mistaken for trial results."""
    fig.text(0.5, 0.5, "SYNTHETIC DATA", fontsize=54, color="#c0392b", alpha=0.13, ha="center", va="center",
             rotation=20, weight="bold", zorder=0)  # fmt: skip


def slope_forest(idata_by_prior: dict[str, az.InferenceData], mcid: float, title: str) -> plt.Figure:
    """Alliance slope (outcome points per SD of alliance) for every alliance timepoint x follow-up."""
    priors = list(idata_by_prior)
    first = idata_by_prior[priors[0]].posterior["slope_points"]
    cells = [(a, t) for a in first["alliance_time"].values for t in first["followup"].values]
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(cells) + 2.3))
    y = np.arange(len(cells))[::-1].astype(float)
    offsets = np.linspace(-0.25, 0.25, len(priors)) if len(priors) > 1 else [0.0]
    for k, prior in enumerate(priors):
        da = idata_by_prior[prior].posterior["slope_points"]
        colour = PRIOR_COLOURS[k % len(PRIOR_COLOURS)]
        for j, (a, t) in enumerate(cells):
            draws = da.sel(alliance_time=a, followup=t).values.ravel()
            lo, hi = az.hdi(draws, hdi_prob=HDI_PROB)
            med = np.median(draws)
            ax.errorbar(med, y[j] + offsets[k], xerr=[[med - lo], [hi - med]], fmt="o", ms=4, color=colour,
                        elinewidth=1.5, label=f"{prior}: median, 94% HDI" if j == 0 else None)  # fmt: skip
    for x, style in [(0, ":"), (-mcid, "--"), (-mcid / 2, "-.")]:
        ax.axvline(x, color="0.45", lw=0.9, ls=style)
    ax.text(-mcid, len(cells) - 0.35, "−MCID", ha="center", fontsize=8, color="0.3")
    ax.text(-mcid / 2, len(cells) - 0.35, "−MCID/2", ha="center", fontsize=8, color="0.3")
    ax.set_yticks(y, [f"alliance @ {a} → outcome @ {t}" for a, t in cells], fontsize=8)
    ax.set_ylim(-0.8, len(cells) - 0.1)
    ax.set_xlabel("outcome points per SD of alliance (adjusted for baseline and the other alliance timepoints)")
    ax.set_title(_wrap(title, 90), fontsize=11)
    # legend in a band of fixed height (inches) under the axes, whatever the number of cells
    height = fig.get_size_inches()[1]
    fig.legend(loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.55 / height, 1, 1))
    return fig


def alliance_trajectory(idata: az.InferenceData, title: str) -> plt.Figure:
    """Posterior of the change in alliance from the first alliance timepoint, in SD units (d)."""
    da = idata.posterior["alliance_change_d"]
    levels = [str(v) for v in da["alliance_time"].values]
    fig, ax = plt.subplots(figsize=(6.5, 2.2 + 0.35 * len(levels)))
    for j, level in enumerate(levels):
        draws = da.sel(alliance_time=level).values.ravel()
        lo, hi = az.hdi(draws, hdi_prob=HDI_PROB)
        med = np.median(draws)
        ax.errorbar(med, j, xerr=[[med - lo], [hi - med]], fmt="o", color=PRIOR_COLOURS[0], elinewidth=2)
    ax.axvline(0, color="0.4", lw=0.8, ls=":")
    ax.set_yticks(range(len(levels)), levels)
    ax.invert_yaxis()
    ax.set_xlabel(f"change in alliance since {levels[0]} (SD units, median and 94% HDI)")
    ax.set_title(_wrap(title, 70), fontsize=10)
    fig.tight_layout()
    return fig


def group_ppc(
    table: pd.DataFrame, predicted: dict[str, dict[str, np.ndarray]], title: str, unit: str = "outcome points"
) -> plt.Figure:
    """Observed mean and SD of each group (follow-up, alliance timepoint) against their posterior predictive
    distributions: one panel per statistic, a violin per group, the observed value as a diamond."""
    labels = list(dict.fromkeys(table["group"]))
    panels = [s for s in ("mean", "sd") if s in set(table["statistic"])]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 2.2 + 0.45 * len(labels)), squeeze=False)
    for ax, statistic in zip(axes[0], panels, strict=True):
        rows = table[table["statistic"] == statistic].set_index("group")
        for j, label in enumerate(labels):
            if label not in rows.index:
                continue
            ax.violinplot(predicted[statistic][label], positions=[j], vert=False, widths=0.7, showextrema=False)
            ax.plot([rows.loc[label, "pred_low"], rows.loc[label, "pred_high"]], [j, j], color="0.3", lw=1)
            flagged = bool(rows.loc[label, "outside_95"])
            ax.plot(rows.loc[label, "observed"], j, marker="D", color="crimson" if flagged else "black", ms=7)
        ax.set_yticks(range(len(labels)), labels if ax is axes[0][0] else [""] * len(labels))
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlabel(f"{'mean' if statistic == 'mean' else 'SD'} ({unit})")
    fig.suptitle(_wrap(title, 90), fontsize=10)
    fig.text(0.5, 0.005, "predictive distribution and 95% interval; observed ◆ (red: outside)", ha="center",
             fontsize=8)  # fmt: skip
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
