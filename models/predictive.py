"""Posterior predictive checks: would the model reproduce each published statistic (Track A), and each group
mean of the participant data (Track B)?

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


# --- Track B: group means of replicated data --------------------------------------------------------------------

GROUP_PPC_COLUMNS = [
    "model", "prior_set", "group", "n_observed", "observed_mean", "pred_low", "pred_median", "pred_high",
    "p_below", "outside_95",
]  # fmt: skip


def group_mean_ppc(
    observed: np.ndarray, predicted: np.ndarray, groups: np.ndarray, model: str, prior_set: str
) -> pd.DataFrame:
    """Observed mean of each group (a follow-up, an alliance timepoint) against its posterior predictive distribution.

    ``observed``: the observed values (n_obs,); ``predicted``: replicated data, n_obs x draws; ``groups``: a label
    per observed value (groups keep their order of first appearance). The replicated mean of a group is the
    mean of its replicated values in each draw; ``p_below`` is the predictive probability of a mean at or below
    the observed one, and a mean outside the central 95% of its predictive distribution is flagged.
    """
    observed, predicted, groups = np.asarray(observed, float), np.asarray(predicted, float), np.asarray(groups)
    if predicted.shape[0] != observed.shape[0] or groups.shape != observed.shape:
        raise ValueError(
            f"{model}/{prior_set}: {observed.shape[0]} observed values, {predicted.shape[0]} replicated rows and "
            f"{groups.shape[0]} group labels; expected one of each per observed value"
        )
    records = []
    for label, pred in replicated_group_means(predicted, groups).items():
        mask = groups == label
        obs_mean = float(observed[mask].mean())
        lo, med, hi = np.quantile(pred, [0.025, 0.5, 0.975])
        records.append({
            "model": model, "prior_set": prior_set, "group": str(label), "n_observed": int(mask.sum()),
            "observed_mean": obs_mean, "pred_low": lo, "pred_median": med, "pred_high": hi,
            "p_below": float(np.mean(pred <= obs_mean)), "outside_95": not lo <= obs_mean <= hi,
        })  # fmt: skip
    return pd.DataFrame(records, columns=GROUP_PPC_COLUMNS)


def replicated_group_means(predicted: np.ndarray, groups: np.ndarray) -> dict[str, np.ndarray]:
    """Label -> the group's replicated mean in every draw (groups in order of first appearance)."""
    groups = np.asarray(groups)
    return {str(g): np.asarray(predicted)[groups == g].mean(axis=0) for g in dict.fromkeys(groups.tolist())}


def ppc_reading(table: pd.DataFrame, what: str) -> str:
    """One sentence for the report: how many observed group means fall outside their 95% predictive interval."""
    outside = table.loc[table["outside_95"].astype(bool), "group"].tolist()
    text = f"{len(outside)} of {len(table)} observed {what} outside the 95% predictive interval"
    return text + (": " + ", ".join(outside) + "." if outside else ".")
