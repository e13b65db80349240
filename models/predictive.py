"""Posterior predictive check of Track A: would the model reproduce each published statistic?

The sample r of a row is simulated exactly, not through Fisher's approximation: the scatter matrix of n
bivariate-normal draws is Wishart(n - 1, Sigma), drawn with the Bartlett decomposition (for 2 x 2:
A = [[c1, 0], [b, c2]], c1^2 ~ chi2(df), c2^2 ~ chi2(df - 1), b ~ N(0, 1)), so r needs three scalars per draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_r(rho: np.ndarray, n_eff: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample correlations of n_eff bivariate-normal observations with correlation rho (broadcast)."""
    rho, n_eff = np.broadcast_arrays(np.asarray(rho, float), np.asarray(n_eff, float))
    df = n_eff - 1.0
    c1 = np.sqrt(rng.chisquare(df))
    c2 = np.sqrt(rng.chisquare(df - 1.0))
    b = rng.standard_normal(rho.shape)
    # L = chol([[1, rho], [rho, 1]]) = [[1, 0], [rho, s]]; rows of L A give the scatter matrix S = (L A)(L A)^T
    s = np.sqrt(1.0 - rho**2)
    x1 = np.stack([c1, np.zeros_like(c1)])
    x2 = np.stack([rho * c1 + s * b, s * c2])
    s11, s22, s12 = (x1**2).sum(0), (x2**2).sum(0), (x1 * x2).sum(0)
    return s12 / np.sqrt(s11 * s22)


PPC_COLUMNS = [
    "model", "prior_set", "row_id", "statistic", "kind", "observed", "pred_low", "pred_median", "pred_high",
    "p_observed_event", "outside_95",
]  # fmt: skip


def published_ppc(rho_draws: np.ndarray, obs: pd.DataFrame, seed: int, model: str, prior_set: str) -> pd.DataFrame:
    """One row per published result. ``rho_draws``: rows x draws of the row's rho from the posterior.

    Point rows: is the reported r inside the central 95% of the predictive distribution of r?
    Interval rows: p_observed_event = predictive probability of what was reported (r in the interval[s]);
    below .025 it is flagged like a point outside its 95% interval.
    """
    rng = np.random.default_rng(seed)
    records = []
    for j, (_, row) in enumerate(obs.iterrows()):
        r_sim = simulate_r(rho_draws[j], row["n_eff"], rng)
        lo, med, hi = np.quantile(r_sim, [0.025, 0.5, 0.975])
        if row["kind"] == "point":
            observed = f"{row['r_obs']:.2f}"
            p_event = float(np.mean(r_sim <= row["r_obs"]))
            outside = not lo <= row["r_obs"] <= hi
        else:
            event = (r_sim > row["r_lo1"]) & (r_sim < row["r_hi1"])
            intervals = f"[{row['r_lo1']:.2f}, {row['r_hi1']:.2f}]"
            if row["r_hi2"] > row["r_lo2"]:
                event |= (r_sim > row["r_lo2"]) & (r_sim < row["r_hi2"])
                intervals += f" or [{row['r_lo2']:.2f}, {row['r_hi2']:.2f}]"
            observed, p_event = f"r in {intervals}", float(np.mean(event))
            outside = p_event < 0.025
        records.append({
            "model": model, "prior_set": prior_set, "row_id": row["row_id"], "statistic": row["statistic"],
            "kind": row["kind"], "observed": observed, "pred_low": lo, "pred_median": med, "pred_high": hi,
            "p_observed_event": p_event, "outside_95": outside,
        })  # fmt: skip
    return pd.DataFrame(records, columns=PPC_COLUMNS)
