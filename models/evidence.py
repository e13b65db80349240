"""What each published row says about its *sample* correlation r.

Every statistic type becomes either a point observation of r (``kind = "point"``) or an
interval-censored one: the observed r lay in [lo1, hi1] (or, when the sign is unknown, in the union with
[lo2, hi2]). The likelihoods in :mod:`models.likelihoods` only need these bounds, so a new statistic type
is a new branch here, not a new likelihood.

Sign convention: r is the correlation between alliance and later symptom *severity*; negative means a
stronger alliance went with fewer symptoms (``direction = alliance_lowers_symptoms``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.correlation import critical_r, peterson_brown_r, rounding_halfwidth

SIGN_OF_DIRECTION = {"alliance_lowers_symptoms": -1, "alliance_raises_symptoms": 1, "": 0}
R_MAX = 0.9999  # keeps atanh finite at the ends of an interval


@dataclass(frozen=True)
class EvidenceSettings:
    alpha: float = 0.05
    correction: str = "bonferroni"  # bonferroni | none
    family_size: int = 6
    family_size_by_study: dict | None = None
    omitted_rows: str = "censor"  # censor | drop
    std_beta_extra_sd: float = 0.1  # extra sd on the z scale for the beta -> r approximation
    widen_for_rounding: bool = True
    shared_sample_error_correlation: float = 0.0

    def family(self, study: str) -> int:
        return int((self.family_size_by_study or {}).get(study, self.family_size))


COLUMNS = [
    "row_id", "study", "statistic", "kind", "n", "k", "n_eff", "r_obs",
    "r_lo1", "r_hi1", "r_lo2", "r_hi2", "extra_sd", "reading",
]  # fmt: skip


def _signed_interval(abs_lo, abs_hi, sign):
    """|r| in [abs_lo, abs_hi] with a known sign -> one interval; unknown sign -> two."""
    abs_lo, abs_hi = max(abs_lo, 0.0), min(abs_hi, R_MAX)
    if sign < 0:
        return (-abs_hi, -abs_lo), (0.0, 0.0)
    if sign > 0:
        return (abs_lo, abs_hi), (0.0, 0.0)
    return (-abs_hi, -abs_lo), (abs_lo, abs_hi)


def row_observation(row: pd.Series, n: float, s: EvidenceSettings) -> dict | None:
    """One observation dict for a cleaned published row, or None when the row is dropped by config."""
    stat, k = row["statistic"], int(row["k"])
    sign = SIGN_OF_DIRECTION[row["direction"]]
    point, extra_sd, reading = np.nan, 0.0, ""
    iv1, iv2 = (0.0, 0.0), (0.0, 0.0)
    rc = float(critical_r(s.alpha, n, k))
    if stat == "r":
        point = float(row["value"])
        reading = f"r = {point:.2f}" + (f" (partial, {k} covariate(s))" if k else "")
    elif stat == "std_beta":
        point = float(peterson_brown_r(row["value"]))
        extra_sd = s.std_beta_extra_sd
        reading = f"beta = {row['value']:.2f} -> r ~ {point:.2f} (Peterson & Brown 2005), extra sd {extra_sd} on z"
    elif stat == "variance_explained_range":
        lo, hi = float(row["value_low"]), float(row["value_high"])
        if s.widen_for_rounding:
            lo -= rounding_halfwidth(row["value_low_text"])
            hi += rounding_halfwidth(row["value_high_text"])
        iv1, iv2 = _signed_interval(np.sqrt(max(lo, 0.0)), np.sqrt(min(hi, 1.0)), sign)
        reading = f"r^2 in [{lo:.3f}, {hi:.3f}] -> |r| in [{np.sqrt(max(lo, 0)):.3f}, {np.sqrt(hi):.3f}]"
    elif stat in ("not_significant", "omitted_from_abstract"):
        if stat == "omitted_from_abstract" and s.omitted_rows == "drop":
            return None
        iv1 = (-rc, rc)
        reading = f"|r| < {rc:.3f} (not significant at alpha = {s.alpha}, n = {n:g}, k = {k})"
    elif stat == "significant_uncorrected":
        m = s.family(row["study"])
        alpha_corr = s.alpha / m if s.correction == "bonferroni" else s.alpha
        # no correction in effect (correction none, or a family of 1): the row only says |r| > rc
        rc_corr = float(critical_r(alpha_corr, n, k)) if alpha_corr < s.alpha else 1.0
        iv1, iv2 = _signed_interval(rc, rc_corr, sign)
        reading = f"{rc:.3f} < |r| < {rc_corr:.3f} (significant at {s.alpha}, not after {s.correction} over {m} tests)"
    else:  # the table validator admits only the types above
        raise ValueError(f"row {row['row_id']}: unsupported statistic {stat!r}")
    return {
        "row_id": row["row_id"],
        "study": row["study"],
        "statistic": stat,
        "kind": "point" if np.isfinite(point) else "interval",
        "n": float(n),
        "k": k,
        "r_obs": point,
        "r_lo1": iv1[0],
        "r_hi1": iv1[1],
        "r_lo2": iv2[0],
        "r_hi2": iv2[1],
        "extra_sd": extra_sd,
        "reading": reading,
    }


def build_observations(clean: pd.DataFrame, n_used: pd.Series, s: EvidenceSettings) -> tuple[pd.DataFrame, list]:
    """Observations for every cleaned row; returns (observations, log of dropped rows).

    ``n_used`` maps row_id -> the n to use (reported or audit-implied). ``n_eff`` is the sample size
    whose Fisher-z variance the row gets: n - k, shrunk by the design effect 1 + (m - 1) c when a study's
    m rows share participants and their sampling errors are assumed to correlate c.
    """
    records, dropped = [], []
    for _, row in clean.iterrows():
        obs = row_observation(row, float(n_used[row["row_id"]]), s)
        if obs is None:
            dropped.append({"row_id": row["row_id"], "action": "dropped", "reason": "omitted_rows: drop in config"})
            continue
        keep = {c: row[c] for c in row.index if c not in obs}
        records.append({**obs, **keep})
    out = pd.DataFrame.from_records(records)
    if out.empty:
        raise ValueError("no observations left after applying the config (every row was dropped)")
    # m counts the rows the model sees: a dropped row shares no information
    rows_per_study = out.groupby("study")["row_id"].transform("count")
    design_effect = 1.0 + (rows_per_study - 1) * s.shared_sample_error_correlation
    out["n_eff"] = 3.0 + (out["n"] - out["k"] - 3.0) / design_effect
    return out[COLUMNS + [c for c in out.columns if c not in COLUMNS]], dropped
