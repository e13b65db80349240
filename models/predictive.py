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
    "model", "prior_set", "group", "statistic", "n_observed", "observed", "pred_low", "pred_median", "pred_high",
    "p_below", "outside_95",
]  # fmt: skip
# The models give every group its own mean, so the mean check mostly catches gross errors (p near .5 is the
# expected result); the spread is pooled across groups, so the SD check can show a group the model misfits.
GROUP_STATISTICS = {"mean": np.mean, "sd": lambda x, axis=None: np.std(x, axis=axis, ddof=1)}


def replicated_group_statistics(predicted: np.ndarray, groups: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Statistic (mean, sd) -> label -> the group's statistic of the replicated data in every draw.

    Groups keep their order of first appearance; a group of one value has no SD and is left out of ``sd``.
    """
    groups, predicted = np.asarray(groups), np.asarray(predicted, float)
    labels = list(dict.fromkeys(groups.tolist()))
    return {
        statistic: {str(g): stat(predicted[groups == g], axis=0) for g in labels
                    if statistic != "sd" or np.sum(groups == g) > 1}
        for statistic, stat in GROUP_STATISTICS.items()
    }  # fmt: skip


def group_ppc_table(
    observed: np.ndarray, predicted: np.ndarray, groups: np.ndarray, model: str, prior_set: str
) -> pd.DataFrame:
    """Observed mean and SD of each group (a follow-up, an alliance timepoint) against their posterior predictive
    distributions.

    ``observed``: the observed values (n_obs,); ``predicted``: replicated data, n_obs x draws; ``groups``: a label
    per observed value. ``p_below`` is the predictive probability of a statistic at or below the observed one; a
    statistic outside the central 95% of its predictive distribution is flagged. Groups of one value get no SD.
    """
    observed, predicted, groups = np.asarray(observed, float), np.asarray(predicted, float), np.asarray(groups)
    if predicted.shape[0] != observed.shape[0] or groups.shape != observed.shape:
        raise ValueError(
            f"{model}/{prior_set}: {observed.shape[0]} observed values, {predicted.shape[0]} replicated rows and "
            f"{groups.shape[0]} group labels; expected one of each per observed value"
        )
    records = []
    for statistic, replicated in replicated_group_statistics(predicted, groups).items():
        for label, pred in replicated.items():
            mask = groups == label
            value = float(GROUP_STATISTICS[statistic](observed[mask]))
            lo, med, hi = np.quantile(pred, [0.025, 0.5, 0.975])
            records.append({
                "model": model, "prior_set": prior_set, "group": str(label), "statistic": statistic,
                "n_observed": int(mask.sum()), "observed": value, "pred_low": lo, "pred_median": med, "pred_high": hi,
                "p_below": float(np.mean(pred <= value)), "outside_95": not lo <= value <= hi,
            })  # fmt: skip
    return pd.DataFrame(records, columns=GROUP_PPC_COLUMNS)


def ppc_reading(table: pd.DataFrame, what: str) -> str:
    """One sentence for the report: which observed group means and SDs fall outside their 95% predictive interval."""
    flagged = table[table["outside_95"].astype(bool)]
    outside = [f"{g} ({s})" for g, s in zip(flagged["group"], flagged["statistic"], strict=True)]
    text = f"{len(outside)} of {len(table)} observed {what} means and SDs outside the 95% predictive interval"
    return text + (": " + ", ".join(outside) + "." if outside else ".")
