"""Statcheck-style audit: do the reported r, p and n agree, and which n would make them agree?

A printed r of ".65" means r in [.645, .655]; a printed p of ".002" means p in [.0015, .0025]; "<.001"
means p in (0, .001). A row is *consistent* at n when the p range that the r range implies at n
(t test, n - 2 - k df) overlaps the printed p range. Since p falls monotonically with n for a fixed |r|,
the consistent n form one contiguous range, found by scanning n.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from models.correlation import p_from_r, rounding_halfwidth

P_PATTERN = re.compile(r"^\s*(?P<op>[<>=]?)\s*(?P<num>0?\.\d+)")
AUDIT_COLUMNS = [
    "row_id", "study", "statistic", "r_low", "r_high", "p_reported", "p_low", "p_high", "n_reported", "k",
    "p_recomputed_low", "p_recomputed_high", "consistent_at_reported_n", "n_consistent_min",
    "n_consistent_max", "n_implied", "verdict",
]  # fmt: skip


def parse_p(text: str) -> tuple[float, float] | None:
    """Printed p -> (low, high) range it stands for; None when empty. Raises ValueError if unreadable."""
    if not text:
        return None
    m = P_PATTERN.match(text)
    if m is None:
        raise ValueError(f"cannot read p = {text!r}; expected e.g. '.036', '<.001', '>.05'")
    value = float(m["num"])
    if m["op"] == "<":
        return 0.0, value
    if m["op"] == ">":
        return value, 1.0
    h = rounding_halfwidth(m["num"])
    return max(value - h, 0.0), min(value + h, 1.0)


def abs_r_range(row: pd.Series) -> tuple[float, float] | None:
    """Range of |r| the row's printed numbers allow, or None when the row has no number."""
    if row["statistic"] == "r":
        h = rounding_halfwidth(row["value_text"])
        v = abs(float(row["value"]))
        return max(v - h, 0.0), min(v + h, 0.9999)
    if row["statistic"] == "variance_explained_range":
        lo = float(row["value_low"]) - rounding_halfwidth(row["value_low_text"])
        hi = float(row["value_high"]) + rounding_halfwidth(row["value_high_text"])
        return float(np.sqrt(max(lo, 0.0))), float(np.sqrt(min(hi, 0.9999)))
    return None


def p_range(r_range: tuple[float, float], n, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) two-sided p over the |r| range, at each n (vectorised over n)."""
    return p_from_r(r_range[1], n, k), p_from_r(r_range[0], n, k)


def consistent_n(r_range, p_rng, k: int, n_max: int) -> np.ndarray:
    """Every n in [k + 4, n_max] at which the r range and the printed p range overlap."""
    n = np.arange(k + 4, n_max + 1)
    p_lo, p_hi = p_range(r_range, n, k)
    return n[(p_lo <= p_rng[1]) & (p_hi >= p_rng[0])]


def audit_row(row: pd.Series) -> dict:
    n, k = int(row["n"]), int(row["k"])
    out = {c: np.nan for c in AUDIT_COLUMNS}
    out.update(row_id=row["row_id"], study=row["study"], statistic=row["statistic"], p_reported=row["p_reported"])
    out.update(n_reported=n, k=k, n_implied=n)
    r_rng, p_rng = abs_r_range(row), parse_p(row["p_reported"])
    if r_rng is None or p_rng is None:
        out["verdict"] = "not auditable (no number)" if r_rng is None else "not auditable (no p)"
        return out
    p_lo, p_hi = p_range(r_rng, n, k)
    n_max = max(10 * n, 1000)
    ok_n = consistent_n(r_rng, p_rng, k, n_max=n_max)
    consistent = bool(p_lo <= p_rng[1] and p_hi >= p_rng[0])
    out.update(r_low=r_rng[0], r_high=r_rng[1], p_low=p_rng[0], p_high=p_rng[1])
    out.update(p_recomputed_low=float(p_lo), p_recomputed_high=float(p_hi), consistent_at_reported_n=consistent)
    if ok_n.size:
        # a range that reaches the scan limit is open-ended: "any n >= min"
        out.update(n_consistent_min=int(ok_n.min()), n_consistent_max=int(ok_n.max()) if ok_n.max() < n_max else np.nan)
        out["n_implied"] = n if consistent else int(ok_n[np.argmin(np.abs(ok_n - n))])
    if consistent:
        out["verdict"] = "consistent"
    elif ok_n.size:
        upper = "" if ok_n.max() == ok_n.min() else f"-{ok_n.max()}" if ok_n.max() < n_max else " or more"
        out["verdict"] = f"inconsistent at n = {n}; consistent for n = {ok_n.min()}{upper}"
    else:
        out["verdict"] = "inconsistent at every n"
    return out


def audit_table(clean: pd.DataFrame) -> pd.DataFrame:
    """One audit row per published row, in input order."""
    return pd.DataFrame([audit_row(row) for _, row in clean.iterrows()], columns=AUDIT_COLUMNS)
