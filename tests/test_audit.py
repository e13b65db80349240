"""reanalysis.audit: printed p ranges, and the r/p/n consistency verdicts on the real table.

The reference p values are computed here from the null distribution of r itself (r² ~ Beta(1/2, df/2)),
cross-checked once against the t test (t = r sqrt(df / (1 - r²)), scipy.stats.t.sf); the module under
test uses models.correlation.p_from_r.
"""

import math
import re

import numpy as np
import pytest
from conftest import PUBLISHED_CSV
from scipy import stats

from reanalysis.audit import AUDIT_COLUMNS, audit_row, audit_table, parse_p
from reanalysis.published_table import read_published


def p_beta(r: float, n: int, k: int = 0) -> float:
    """Two-sided p of a (partial) correlation r: P(R² >= r²) with R² ~ Beta(1/2, (n - 2 - k) / 2)."""
    return float(stats.beta.sf(r * r, 0.5, (n - 2 - k) / 2))


def p_t(r: float, n: int, k: int = 0) -> float:
    df = n - 2 - k
    return float(2 * stats.t.sf(abs(r) * math.sqrt(df / (1 - r * r)), df))


def consistent_ns(r_lo: float, r_hi: float, p_lo: float, p_hi: float, k: int = 0, n_max: int = 1000) -> list[int]:
    """n at which the p range implied by |r| in [r_lo, r_hi] overlaps [p_lo, p_hi] (brute force)."""
    return [n for n in range(k + 4, n_max + 1) if p_beta(r_hi, n, k) <= p_hi and p_beta(r_lo, n, k) >= p_lo]


@pytest.fixture(scope="module")
def clean():
    return read_published(PUBLISHED_CSV)[0]


@pytest.fixture(scope="module")
def audit(clean):
    return audit_table(clean).set_index("row_id")


def _row(clean, row_id, **changes):
    row = clean.set_index("row_id").loc[row_id].copy()
    row["row_id"] = row_id
    for column, value in changes.items():
        row[column] = value
    return row


# ---------------------------------------------------------------- parse_p
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (".002", (0.0015, 0.0025)),
        (".036", (0.0355, 0.0365)),
        ("0.01", (0.005, 0.015)),
        ("=.03", (0.025, 0.035)),
        ("<.001", (0.0, 0.001)),
        ("< .001", (0.0, 0.001)),
        (">.05", (0.05, 1.0)),
        ("<.05 uncorrected", (0.0, 0.05)),
    ],
)
def test_parse_p(text, expected):
    got = parse_p(text)
    assert len(got) == 2
    assert got == pytest.approx(expected, abs=1e-12)


def test_parse_p_empty_is_none():
    assert parse_p("") is None


@pytest.mark.parametrize("text", ["n.s.", "p = .03", "significant", "1.5"])
def test_parse_p_garbage_raises(text):
    with pytest.raises(ValueError, match=r"cannot read p = .*expected e\.g\. '\.036'"):
        parse_p(text)


# ---------------------------------------------------------------- reference p
def test_reference_p_functions_agree_and_l01_is_about_0_0006_at_n_24():
    for r, n, k in [(0.65, 24, 0), (0.47, 20, 0), (0.5, 22, 1), (0.85, 11, 0)]:
        assert p_beta(r, n, k) == pytest.approx(p_t(r, n, k), rel=1e-9)
    assert p_t(0.65, 24) == pytest.approx(0.0006, abs=0.0001)
    assert p_t(0.65, 20) == pytest.approx(0.0019, abs=0.0001)


# ---------------------------------------------------------------- the real table
def test_audit_table_shape_and_order(audit, clean):
    assert list(audit.reset_index().columns) == AUDIT_COLUMNS
    assert list(audit.index) == list(clean["row_id"])
    assert audit.shape == (14, len(AUDIT_COLUMNS) - 1)


def test_l01_inconsistent_at_24_consistent_near_20(audit):
    a = audit.loc["L01"]
    assert (a["r_low"], a["r_high"]) == pytest.approx((0.645, 0.655))
    assert (a["p_low"], a["p_high"]) == pytest.approx((0.0015, 0.0025))
    # recomputed p at the reported n = 24 (df = 22): lowest p from the largest |r|
    assert a["p_recomputed_low"] == pytest.approx(p_beta(0.655, 24), rel=1e-8)
    assert a["p_recomputed_high"] == pytest.approx(p_beta(0.645, 24), rel=1e-8)
    assert a["p_recomputed_high"] < 0.0015  # p at n = 24 is ~.0006: too small for a printed .002
    assert a["consistent_at_reported_n"] == False  # noqa: E712 (numpy bool)
    ok = consistent_ns(0.645, 0.655, 0.0015, 0.0025)
    assert 20 in ok and 24 not in ok
    assert (a["n_consistent_min"], a["n_consistent_max"]) == (min(ok), max(ok))
    nearest = min(ok, key=lambda n: abs(n - 24))
    assert a["n_implied"] == nearest
    assert a["n_implied"] in (20, 21)
    assert a["verdict"] == f"inconsistent at n = 24; consistent for n = {min(ok)}-{max(ok)}"


def test_l01_consistent_at_n_20(clean):
    a = audit_row(_row(clean, "L01", n=20))
    assert a["consistent_at_reported_n"] is True
    assert a["verdict"] == "consistent"
    assert a["n_implied"] == 20
    assert a["p_recomputed_low"] == pytest.approx(p_beta(0.655, 20), rel=1e-8)
    assert a["p_recomputed_high"] == pytest.approx(p_beta(0.645, 20), rel=1e-8)
    assert a["p_recomputed_low"] <= 0.0025 and a["p_recomputed_high"] >= 0.0015


@pytest.mark.parametrize(("row_id", "r", "p"), [("L03", 0.47, 0.036), ("L04", 0.54, 0.014)])
def test_l03_l04_consistent_only_near_20(audit, row_id, r, p):
    a = audit.loc[row_id]
    ok = consistent_ns(r - 0.005, r + 0.005, p - 0.0005, p + 0.0005)
    assert ok == [20]
    assert a["consistent_at_reported_n"] == False  # noqa: E712
    assert (a["n_consistent_min"], a["n_consistent_max"], a["n_implied"]) == (20, 20, 20)
    assert a["p_recomputed_high"] == pytest.approx(p_beta(r - 0.005, 24), rel=1e-8)
    assert re.fullmatch(r"inconsistent at n = 24; consistent for n = 20(-20)?", a["verdict"]), a["verdict"]


def test_l05_consistent_and_open_ended(audit):
    a = audit.loc["L05"]
    assert a["verdict"] == "consistent"
    assert a["consistent_at_reported_n"] == True  # noqa: E712
    assert (a["p_low"], a["p_high"]) == (0.0, 0.001)
    assert a["p_recomputed_low"] == pytest.approx(p_beta(0.855, 24), rel=1e-8)
    assert a["p_recomputed_high"] == pytest.approx(p_beta(0.845, 24), rel=1e-8)
    assert a["p_recomputed_high"] < 1e-6
    ok = consistent_ns(0.845, 0.855, 0.0, 0.001)
    assert ok[-1] == 1000 and ok == list(range(ok[0], 1001))  # open-ended: every n from the minimum on
    assert a["n_consistent_min"] == ok[0]
    assert np.isnan(a["n_consistent_max"])
    assert a["n_implied"] == 24


@pytest.mark.parametrize(("row_id", "low", "high"), [("Z02", 0.24, 0.29), ("Z05", 0.26, 0.40)])
def test_variance_explained_rows_consistent_with_p_below_05(audit, row_id, low, high):
    a = audit.loc[row_id]
    r_lo, r_hi = math.sqrt(low - 0.005), math.sqrt(high + 0.005)  # widened by half the last printed digit
    assert (a["r_low"], a["r_high"]) == pytest.approx((r_lo, r_hi))
    assert (a["n_reported"], a["k"]) == (22, 1)
    assert a["p_recomputed_low"] == pytest.approx(p_beta(r_hi, 22, k=1), rel=1e-8)  # df = 22 - 2 - 1
    assert a["p_recomputed_high"] == pytest.approx(p_beta(r_lo, 22, k=1), rel=1e-8)
    assert a["p_recomputed_high"] < 0.05
    assert a["verdict"] == "consistent"
    assert a["n_consistent_min"] == consistent_ns(r_lo, r_hi, 0.0, 0.05, k=1)[0]
    assert np.isnan(a["n_consistent_max"])


@pytest.mark.parametrize("row_id", ["Z01", "Z04", "L02"])
def test_rows_without_numbers_not_auditable(audit, row_id):
    a = audit.loc[row_id]
    assert a["verdict"] == "not auditable (no number)"
    assert np.isnan(a["p_recomputed_low"]) and np.isnan(a["r_low"])
    assert np.isnan(a["n_consistent_min"])


def test_row_without_p_not_auditable(clean):
    a = audit_row(_row(clean, "L03", p_reported=""))
    assert a["verdict"] == "not auditable (no p)"
    assert np.isnan(a["p_recomputed_low"])


def test_verdict_counts_on_real_table(audit):
    counts = audit["verdict"].value_counts()
    assert counts["consistent"] == 8  # Z02, Z03, Z05, Z06, L05-L08
    assert counts["not auditable (no number)"] == 3
    assert audit["verdict"].str.startswith("inconsistent at n = 24").sum() == 3  # L01, L03, L04


# ---------------------------------------------------------------- constructed rows
def test_open_ended_inconsistent_range_leaves_max_empty(clean):
    """r = .30 with p < .001 needs a large sample: inconsistent at 24, consistent for every n from some n on."""
    a = audit_row(_row(clean, "L03", value=-0.30, value_text="-0.30", p_reported="<.001"))
    ok = consistent_ns(0.295, 0.305, 0.0, 0.001)
    assert ok[-1] == 1000  # reaches the scan limit max(10 n, 1000)
    assert a["consistent_at_reported_n"] is False
    assert a["n_consistent_min"] == ok[0]
    assert np.isnan(a["n_consistent_max"])
    assert a["n_implied"] == ok[0]
    assert a["verdict"] == f"inconsistent at n = 24; consistent for n = {ok[0]} or more"


def test_inconsistent_at_every_n(clean):
    a = audit_row(_row(clean, "L03", value=-0.30, value_text="-0.30", p_reported=">.99"))
    assert consistent_ns(0.295, 0.305, 0.99, 1.0) == []
    assert a["verdict"] == "inconsistent at every n"
    assert np.isnan(a["n_consistent_min"]) and np.isnan(a["n_consistent_max"])
    assert a["n_implied"] == 24
