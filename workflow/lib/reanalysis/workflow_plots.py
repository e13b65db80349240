"""Figures of the Bayesian-workflow checks: SBC, prior predictive, power-scaling sensitivity, Pareto k.

Each function takes tables or draws already in memory and returns a matplotlib Figure (save with
reanalysis.plots.save). ``synthetic=True`` stamps the figure (reanalysis.plots.mark_synthetic) when it was made
from synthetic data.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # no display in a pipeline job
import arviz as az  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from models import sbc  # noqa: E402
from reanalysis.plots import PRIOR_COLOURS, RHO_GRID, _wrap, mark_synthetic, rho_density  # noqa: E402

BAND_COLOUR = "#9ecae1"
FAIL_COLOUR = "#c0392b"
OK_COLOUR = "#1b6ca8"


def _finish(fig: plt.Figure, synthetic: bool) -> plt.Figure:
    if synthetic:
        mark_synthetic(fig)
    return fig


# ---------------------------------------------------------------------------------------------------------------
# SBC
# ---------------------------------------------------------------------------------------------------------------


def sbc_ecdf(
    ranks: pd.DataFrame,
    n_ranks: int | None = None,
    prob: float = 0.95,
    title: str = "Simulation-based calibration",
    synthetic: bool = False,
    ncols: int = 3,
    n_bins: int | None = None,
) -> plt.Figure:
    """Per parameter: ECDF of the fractional ranks minus the uniform CDF inside the simultaneous ``prob`` band
    (top), and the rank histogram with the 95% range of a bin's count under uniformity (bottom).

    ``ranks``: replicate, parameter, rank (and n_ranks unless given), as for models.sbc.summarise. A curve leaving
    the band, drawn in red, is evidence of miscalibration; its shape says which kind: a hump (ECDF above the
    diagonal) = ranks too low = posterior too high (biased up); a U-shaped histogram = posterior too narrow; a
    hump-shaped histogram = posterior too wide.
    """
    params = list(dict.fromkeys(ranks["parameter"]))
    ncols = min(ncols, len(params))
    nrows = math.ceil(len(params) / ncols)
    fig = plt.figure(figsize=(3.7 * ncols, 4.6 * nrows + 0.6))
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[1.6, 1] * nrows, hspace=0.55, wspace=0.28)
    for k, name in enumerate(params):
        group = ranks[ranks["parameter"] == name]
        L1 = int(n_ranks if n_ranks is not None else group["n_ranks"].iloc[0])
        r = group["rank"].to_numpy(int)
        check = sbc.band_check(r, L1, prob)
        band = check["band"]
        row, col = divmod(k, ncols)
        top, bottom = fig.add_subplot(grid[2 * row, col]), fig.add_subplot(grid[2 * row + 1, col])
        z = np.concatenate([[0.0], band.z, [1.0]])
        lo = np.concatenate([[0.0], band.lower - band.z, [0.0]])
        hi = np.concatenate([[0.0], band.upper - band.z, [0.0]])
        top.fill_between(
            z, lo, hi, step="mid", color=BAND_COLOUR, alpha=0.6, lw=0, label=f"{prob:.0%} simultaneous band"
        )
        diff = np.concatenate([[0.0], check["ecdf"] - band.z, [0.0]])
        colour = FAIL_COLOUR if check["band_exceeded"] else OK_COLOUR
        top.step(z, diff, where="mid", color=colour, lw=1.6, label="ECDF − uniform")
        top.axhline(0, color="0.4", lw=0.7, ls=":")
        top.set_xlim(0, 1)
        verdict = "outside band" if check["band_exceeded"] else "inside band"
        top.set_title(f"{name}\n{verdict} (N = {r.size}, L + 1 = {L1})", fontsize=9, color=colour)
        top.set_xlabel("fractional rank", fontsize=8)
        top.tick_params(labelsize=7)
        if k == 0:
            top.set_ylabel("ECDF difference", fontsize=8)
        # histogram: bins of adjacent ranks, about 5+ expected per bin
        bins = n_bins or int(min(L1, max(5, min(20, r.size // 5))))
        edges = np.unique(np.round(np.linspace(0, L1, bins + 1)).astype(int))
        counts = np.histogram(r, bins=edges)[0]
        expected = r.size * np.diff(edges) / L1
        centres = (edges[:-1] + edges[1:]) / 2 / L1
        widths = np.diff(edges) / L1
        p_bin = np.diff(edges) / L1
        lo_c, hi_c = stats.binom.ppf(0.025, r.size, p_bin), stats.binom.ppf(0.975, r.size, p_bin)
        bottom.fill_between(np.repeat(edges / L1, 2)[1:-1], np.repeat(lo_c, 2), np.repeat(hi_c, 2), color=BAND_COLOUR,
                            alpha=0.6, lw=0, zorder=0)  # fmt: skip
        bottom.bar(centres, counts, width=widths * 0.92, color="0.35", alpha=0.75, zorder=2)
        bottom.step(edges / L1, np.append(expected, expected[-1]), where="post", color="0.1", lw=0.9, zorder=3)
        bottom.set_xlim(0, 1)
        bottom.tick_params(labelsize=7)
        bottom.set_xlabel("fractional rank (histogram, 95% range per bin)", fontsize=8)
        if k == 0:
            bottom.set_ylabel("count", fontsize=8)
            top.legend(fontsize=7, frameon=False, loc="lower left")
    fig.suptitle(_wrap(title, 100), fontsize=11)
    fig.subplots_adjust(top=1 - 1.1 / fig.get_size_inches()[1], bottom=0.07, left=0.08, right=0.98)
    return _finish(fig, synthetic)


# ---------------------------------------------------------------------------------------------------------------
# Prior predictive
# ---------------------------------------------------------------------------------------------------------------


def prior_predictive_rho(
    prior_by_set: dict,
    plausible: float = 0.8,
    var_names: tuple[str, ...] = ("rho_pooled", "rho_row"),
    title: str = "Prior predictive: correlations implied by each prior set",
    synthetic: bool = False,
) -> plt.Figure:
    """Per prior set: prior density of each correlation variable (levels pooled), |rho| <= plausible shaded.

    ``prior_by_set`` maps prior-set name -> InferenceData with a prior group (or the prior Dataset). The share of
    draws inside the plausible range is printed in each panel.
    """
    names = list(prior_by_set)
    fig, axes = plt.subplots(1, len(names), figsize=(3.7 * len(names), 3.9), sharex=True, squeeze=False)
    styles = ["-", "--", ":", "-."]
    for k, name in enumerate(names):
        ax = axes[0, k]
        ds = prior_by_set[name].prior if isinstance(prior_by_set[name], az.InferenceData) else prior_by_set[name]
        ax.axvspan(-plausible, plausible, color="0.9", zorder=0)
        colour = PRIOR_COLOURS[k % len(PRIOR_COLOURS)]
        lines = []
        for j, var in enumerate(v for v in var_names if v in ds):
            draws = ds[var].values.ravel()
            share = np.mean(np.abs(draws) <= plausible)
            ax.plot(RHO_GRID, rho_density(draws), color=colour, lw=1.8, ls=styles[j % len(styles)])
            lines.append(f"{var.replace('_', ' ')}: {share:.0%} inside")
        ax.text(0.03, 0.97, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=8)
        ax.set_title(name, fontsize=10, color=colour)
        ax.set_xlim(-1, 1)
        ax.set_yticks([])
        ax.set_xlabel("ρ (alliance × later severity)", fontsize=9)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # each panel its own scale; room for the text above the curves
    handles = [plt.Rectangle((0, 0), 1, 1, color="0.88", label=f"plausible range |ρ| ≤ {plausible:g}")]
    handles += [plt.Line2D([], [], color="0.2", ls=styles[j % len(styles)], label=v.replace("_", " "))
                for j, v in enumerate(var_names)]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(f"{title}\nprior densities (each panel its own vertical scale)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _finish(fig, synthetic)


def prior_predictive_scale(
    prior_by_set: dict,
    var_name: str,
    band: tuple[float, float],
    band_label: str,
    xlabel: str,
    title: str,
    synthetic: bool = False,
) -> plt.Figure:
    """Per prior set: histogram of a quantity's prior draws (levels pooled) with a reference band shaded.

    Track B: the slope in outcome points per SD of alliance against +-1 MCID, or the mean alliance rating against
    the instrument's range. The share of draws inside the band is printed in each panel.
    """
    names = list(prior_by_set)
    draws = {n: (prior_by_set[n].prior if isinstance(prior_by_set[n], az.InferenceData) else prior_by_set[n])[
        var_name].values.ravel() for n in names}  # fmt: skip
    lo, hi = np.quantile(np.concatenate(list(draws.values())), [0.005, 0.995])
    lo, hi = min(lo, band[0]), max(hi, band[1])
    lo, hi = lo - 0.15 * (hi - lo), hi + 0.15 * (hi - lo)  # the band's edges stay visible; outer 0.5% piled at the ends
    fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.4), sharex=True, squeeze=False)
    for k, name in enumerate(names):
        ax, colour = axes[0, k], PRIOR_COLOURS[k % len(PRIOR_COLOURS)]
        ax.axvspan(*band, color="0.9", zorder=0)
        # one filled step outline, not 60 bar patches: half of the figure's drawing time
        counts, edges = np.histogram(np.clip(draws[name], lo, hi), bins=60, range=(lo, hi))
        ax.stairs(counts, edges, fill=True, color=colour, alpha=0.8)
        inside = np.mean((draws[name] >= band[0]) & (draws[name] <= band[1]))
        ax.text(0.03, 0.97, f"{inside:.0%} inside", transform=ax.transAxes, va="top", fontsize=8)
        ax.set_title(name, fontsize=10, color=colour)
        ax.set_yticks([])
        ax.set_xlabel(xlabel, fontsize=9)
    fig.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="0.88", label=band_label)], loc="lower center",
               fontsize=8, frameon=False)  # fmt: skip
    fig.suptitle(_wrap(title, 110), fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _finish(fig, synthetic)


# ---------------------------------------------------------------------------------------------------------------
# Power-scaling sensitivity
# ---------------------------------------------------------------------------------------------------------------


def sensitivity_chart(
    table: pd.DataFrame,
    threshold: float = 0.05,
    title: str = "Power-scaling sensitivity (priorsense)",
    synthetic: bool = False,
) -> plt.Figure:
    """Prior and likelihood sensitivity per parameter, the threshold, and the diagnosis printed at the right.

    ``table``: models.sensitivity.sensitivity_table output, optionally with a ``prior_set`` column (one panel
    per prior set, parameters in the same order).
    """
    sets = list(dict.fromkeys(table["prior_set"])) if "prior_set" in table else [None]
    params = list(dict.fromkeys(table["parameter"]))
    fig, axes = plt.subplots(
        1, len(sets), figsize=(4.3 * len(sets) + 1.6, 0.38 * len(params) + 1.9), sharey=True, squeeze=False
    )
    y = np.arange(len(params))[::-1].astype(float)
    xmax = max(threshold * 2, float(table[["prior_sensitivity", "likelihood_sensitivity"]].max().max()) * 1.1)
    for k, name in enumerate(sets):
        ax = axes[0, k]
        sub = table if name is None else table[table["prior_set"] == name]
        sub = sub.set_index("parameter").reindex(params)
        ax.axvspan(threshold, xmax * 1.5, color="0.9", zorder=0)
        ax.axvline(threshold, color="0.4", lw=0.9, ls="--")
        ax.scatter(sub["prior_sensitivity"], y + 0.12, marker="o", color=PRIOR_COLOURS[0], s=28, zorder=3,
                   label="prior")  # fmt: skip
        ax.scatter(sub["likelihood_sensitivity"], y - 0.12, marker="s", color=PRIOR_COLOURS[2], s=24, zorder=3,
                   label="likelihood")  # fmt: skip
        for yy, diag in zip(y, sub["diagnosis"], strict=True):
            if isinstance(diag, str) and diag != "-":
                colour = FAIL_COLOUR if "conflict" in diag else "#b9770e"
                ax.text(xmax * 1.02, yy, diag, va="center", fontsize=7.5, color=colour, clip_on=False)
        ax.set_xlim(0, xmax)
        ax.set_yticks(y, params, fontsize=8)
        ax.set_ylim(-0.7, len(params) - 0.3)
        ax.set_xlabel("sensitivity (CJS derivative)", fontsize=9)
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))
        ax.tick_params(axis="x", labelsize=8)
        if name is not None:
            ax.set_title(name, fontsize=10)
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=PRIOR_COLOURS[0], label="prior sensitivity"),
        plt.Line2D([], [], marker="s", ls="", color=PRIOR_COLOURS[2], label="likelihood sensitivity"),
        plt.Rectangle((0, 0), 1, 1, color="0.9", label=f"at or above {threshold:g}: sensitive"),
    ]
    height = fig.get_size_inches()[1]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle(f"{title}\ndiagnosis printed at the right of each parameter", fontsize=10)
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1))
    return _finish(fig, synthetic)


# ---------------------------------------------------------------------------------------------------------------
# Pareto k
# ---------------------------------------------------------------------------------------------------------------


def pareto_k(
    pointwise_by_fit: dict[str, pd.DataFrame],
    threshold: float = 0.7,
    title: str = "PSIS-LOO Pareto k per observation",
    synthetic: bool = False,
    max_labels: int = 40,
) -> plt.Figure:
    """Pareto k of every observation, one panel per fit; observations above ``threshold`` red and named.

    ``pointwise_by_fit`` maps fit name -> models.loo.loo_table's pointwise table (label, pareto_k). With at most
    ``max_labels`` observations every label is on the x axis; otherwise only the flagged ones are named.
    """
    fits = list(pointwise_by_fit)
    n_max = max(len(p) for p in pointwise_by_fit.values())
    width = min(14.0, max(6.0, 0.22 * n_max + 2.5))
    fig, axes = plt.subplots(len(fits), 1, figsize=(width, 2.5 * len(fits) + 0.8), squeeze=False)
    for k, name in enumerate(fits):
        ax, pw = axes[k, 0], pointwise_by_fit[name].reset_index(drop=True)
        x = np.arange(len(pw))
        kk = pw["pareto_k"].to_numpy(float)
        high = kk > threshold
        ax.scatter(x[~high], kk[~high], s=18, color=OK_COLOUR, zorder=3)
        ax.scatter(x[high], kk[high], s=30, color=FAIL_COLOUR, marker="D", zorder=3)
        ax.axhline(threshold, color=FAIL_COLOUR, lw=0.9, ls="--")
        ax.text(1.0, threshold, f" k = {threshold:g}", transform=ax.get_yaxis_transform(), va="center", fontsize=7.5,
                color=FAIL_COLOUR)  # fmt: skip
        ax.axhline(0.5, color="0.6", lw=0.7, ls=":")
        top = max(1.0, float(np.nanmax(kk)) + 0.15) if kk.size else 1.0
        ax.set_ylim(min(-0.2, float(np.nanmin(kk)) - 0.1) if kk.size else -0.2, top)
        if len(pw) <= max_labels:
            ax.set_xticks(x, pw["label"].astype(str), rotation=60, ha="right", fontsize=7)
        else:
            ax.set_xlabel("observation", fontsize=8)
            for xi in x[high]:
                ax.annotate(str(pw["label"].iloc[xi]), (xi, kk[xi]), xytext=(3, 3), textcoords="offset points",
                            fontsize=7, color=FAIL_COLOUR)  # fmt: skip
        ax.set_xlim(-0.7, len(pw) - 0.3)
        ax.set_ylabel("Pareto k", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{name}: {int(high.sum())} of {len(pw)} above {threshold:g}", fontsize=9,
                     color=FAIL_COLOUR if high.any() else "black")  # fmt: skip
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return _finish(fig, synthetic)
