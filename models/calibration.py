"""Simulation-based calibration runs: draw parameters from the prior, simulate data of the real shape, refit.

For every replicate the model is *not* rebuilt or recompiled: data enter the graph as ``pm.Data``, so one
compiled nutpie model per chunk takes each simulated data set through ``with_data`` (models.compile).

* Track A: rho of every published row from the prior, then the row's sample r from the model's own
  sampling distribution (Fisher-z normal, or the exact distribution of r), then *reported the way the
  real row was*: point rows as r rounded to two decimals, interval rows as the cell of the real row's
  cut points (e.g. |r| below or above the critical r, or inside a rounded r^2 range) that holds the
  simulated r; rows whose sign was unknown stay two-sided. Same n, statistic types and censoring.
* Track B: the observed variables (alliance ratings and follow-up outcomes) from the prior predictive,
  at the cohort's own n, timepoints and missing cells.

The output is one row per replicate x parameter with the rank of the true value among thinned posterior
draws and whether the central 50% and 90% intervals hold it; models.sbc turns that into a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm

from models import sbc
from models.evidence import R_MAX
from models.predictive import simulate_r
from models.published import PublishedData, observation_values
from models.reported import reported
from models.sampling import forward_mode

RANK_COLUMNS = ["replicate", "parameter", "truth", "rank", "n_ranks", "in50", "in90", "divergences"]


@dataclass(frozen=True)
class SBCSettings:
    """Sampler settings per replicate: short runs, thinned to ``thin_to`` draws (ranks 0..thin_to)."""

    chains: int = 2
    draws: int = 500
    tune: int = 500
    target_accept: float = 0.99
    thin_to: int = 99

    @classmethod
    def from_config(cls, cfg: dict) -> SBCSettings:
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


# ---- Track A: data of the real shape -------------------------------------------------------------------


def cut_points(row: dict) -> tuple[np.ndarray, bool]:
    """Cut points of r a row's report distinguishes, and whether the sign is reported.

    The interval [lo1, hi1] (or the union with [lo2, hi2]) was one cell of a partition; its finite,
    non-zero ends and their mirror images cut [-1, 1] into the cells the same report could have named.
    """
    ends = [row[k] for k in ("r_lo1", "r_hi1", "r_lo2", "r_hi2")]
    mags = sorted({round(abs(e), 9) for e in ends if 0.0 < abs(e) < R_MAX})
    return np.array(mags), not bool(row["has_second"])


def report_like(r: float, mags: np.ndarray, signed: bool) -> tuple[float, float, float, float]:
    """(lo1, hi1, lo2, hi2) for a sample r reported as the cell of ``mags`` that holds |r|."""
    edges = np.concatenate([[0.0], mags, [R_MAX]])
    j = int(np.clip(np.searchsorted(edges, abs(r), side="right") - 1, 0, len(edges) - 2))
    lo, hi = edges[j], edges[j + 1]
    if lo == 0.0:  # the cell around zero holds both signs: one symmetric interval
        return -hi, hi, 0.0, 0.0
    if signed:
        return (lo, hi, 0.0, 0.0) if r > 0 else (-hi, -lo, 0.0, 0.0)
    return -hi, -lo, lo, hi


def simulate_published(
    data: PublishedData, rho_row: np.ndarray, likelihood: str, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Values of the ``obs_*`` containers for one simulated data set (see the module docstring)."""
    return observation_values(simulate_reported(data, rho_row, likelihood, rng), data, likelihood)


def simulate_reported(
    data: PublishedData, rho_row: np.ndarray, likelihood: str, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One simulated data set as the papers would report it: ``r_obs``, ``r_lo1``, ... ``n_eff``, ``extra_sd``."""
    a = data.arrays
    n_eff, extra = a["n_eff"], a["extra_sd"]
    if likelihood == "fisher_z":
        z = np.arctanh(rho_row) + rng.standard_normal(len(n_eff)) * np.sqrt(1.0 / (n_eff - 3.0) + extra**2)
        r = np.tanh(z)
    else:  # exact: r of n_eff bivariate-normal pairs; a beta row's extra sd stays on the z scale
        r = np.tanh(np.arctanh(simulate_r(rho_row, n_eff, rng)) + extra * rng.standard_normal(len(n_eff)))
    r = np.clip(r, -R_MAX, R_MAX)
    out = {k: a[k].astype(float).copy() for k in ("r_lo1", "r_hi1", "r_lo2", "r_hi2", "has_second")}
    out["r_obs"] = np.zeros_like(r)
    for i in range(len(r)):
        if a["is_point"][i]:
            out["r_obs"][i] = np.round(r[i], 2)
            continue
        mags, signed = cut_points({k: a[k][i] for k in ("r_lo1", "r_hi1", "r_lo2", "r_hi2", "has_second")})
        lo1, hi1, lo2, hi2 = report_like(r[i], mags, signed)
        out["r_lo1"][i], out["r_hi1"][i], out["r_lo2"][i], out["r_hi2"][i] = lo1, hi1, lo2, hi2
        out["has_second"][i] = float(hi2 > lo2)
    # row kinds are compiled into the model (PublishedData.layout): a second interval may vanish, never appear
    if np.any((out["has_second"] > 0.5) & ~a["has_second"]):
        raise ValueError("simulated a second interval for a row the model compiled as one-sided")
    return {**out, "n_eff": n_eff, "extra_sd": extra}


# ---- draws from the prior ------------------------------------------------------------------------------


def monitored(model: pm.Model, kind: str) -> list[str]:
    """The parameters SBC checks: those the model reports (models.reported)."""
    return reported(model.named_vars, kind)


def prior_draws(model: pm.Model, var_names: list[str], n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` joint prior draws of ``var_names`` (free, deterministic or observed variables), draw-major."""
    with model:
        prior = pm.sample_prior_predictive(
            draws=n, var_names=var_names, random_seed=seed, return_inferencedata=False, compile_kwargs=forward_mode()
        )
    return {k: np.asarray(v) for k, v in prior.items()}


def track_a_datasets(
    model: pm.Model, data: PublishedData, likelihood: str, monitored: list[str], n: int, seed: int
) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """Prior draws of the monitored parameters and one simulated data set per draw."""
    draws = prior_draws(model, [*monitored, "rho_row"], n, seed)
    rng = np.random.default_rng([seed, 1])
    datasets = [simulate_published(data, draws["rho_row"][i], likelihood, rng) for i in range(n)]
    return {k: draws[k] for k in monitored}, datasets


def generic_datasets(
    model: pm.Model, observed_to_data: dict[str, str], monitored: list[str], n: int, seed: int
) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
    """Prior draws and prior-predictive data sets for models whose observed variables are plain RVs."""
    draws = prior_draws(model, [*monitored, *observed_to_data], n, seed)
    datasets = [{d: draws[rv][i] for rv, d in observed_to_data.items()} for i in range(n)]
    return {k: draws[k] for k in monitored}, datasets


def chunk_seed(seed: int, chunk: int) -> int:
    """Independent, reproducible seed per chunk (replicates never depend on how chunks are scheduled)."""
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


# ---- fitting and ranks ---------------------------------------------------------------------------------


def _flatten(name: str, values: np.ndarray, coords: dict, dims: tuple) -> dict[str, np.ndarray]:
    """{label: values[..., element]} for every element of a (possibly multi-dimensional) variable."""
    shape = values.shape[-len(dims) :] if dims else ()
    if not shape:
        return {name: values}
    out = {}
    for idx in np.ndindex(*shape):
        label = ",".join(str(coords[d][i]) for d, i in zip(dims, idx, strict=True))
        out[f"{name}[{label}]"] = values[(..., *idx)]
    return out


def ranks_for_replicate(truth: dict[str, np.ndarray], posterior, keep: int, coords: dict, dims: dict) -> list[dict]:
    """Rank (number of kept draws below the truth) and 50%/90% central-interval hits of each monitored element."""
    rows = []
    for name, value in truth.items():
        post = _flatten(name, posterior[name].values, coords, dims.get(name, ()))
        true = _flatten(name, np.asarray(value), coords, dims.get(name, ()))
        for label, draws in post.items():
            t = float(true[label])
            hits = sbc.interval_hits(t, draws.reshape(-1))
            rows.append({"parameter": label, "truth": t, "rank": sbc.rank(t, draws, keep), "n_ranks": keep + 1, **hits})
    return rows


def run(
    model: pm.Model,
    truths: dict[str, np.ndarray],
    datasets: list[dict[str, np.ndarray]],
    settings: SBCSettings,
    seed: int,
    first_replicate: int = 0,
    cores: int = 1,
    gradient: str = "handwritten",
) -> pd.DataFrame:
    """Fit every data set with one compiled model; one row per replicate x monitored element.

    ``gradient``: as config ``sampler.gradient`` (:func:`models.compile.compile_nutpie`), so SBC checks the
    sampler the fits use.
    """
    from models import nutpie_trace
    from models.compile import compile_nutpie, with_data

    compiled = compile_nutpie(model, gradient)
    coords = {k: list(v) for k, v in model.coords.items()}
    dims = {k: tuple(v) for k, v in model.named_vars_to_dims.items()}
    rows = []
    for i, values in enumerate(datasets):
        rep = first_replicate + i
        idata = nutpie_trace.sample(
            with_data(compiled, values), draws=settings.draws, tune=settings.tune, chains=settings.chains,
            cores=cores, seed=seed + rep, target_accept=settings.target_accept, progress_bar=False,
        )  # fmt: skip
        divergences = int(idata.sample_stats["diverging"].sum())
        truth = {k: v[i] for k, v in truths.items()}
        for row in ranks_for_replicate(truth, idata.posterior, settings.thin_to, coords, dims):
            rows.append({"replicate": rep, **row, "divergences": divergences})
    return pd.DataFrame(rows, columns=RANK_COLUMNS)
