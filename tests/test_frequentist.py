"""Tests for models.frequentist: the published-style per-timepoint analysis of participant data.

References: scipy.stats.linregress (one predictor), the textbook multiple-regression formulas written out
without a matrix inverse (two predictors), the t test of the partial correlation (same p as the OLS t test of
the alliance coefficient), hand-computed Bonferroni and Holm adjustments, and complete-case counts by hand.
"""

import numpy as np
import pandas as pd
import pytest
from conftest import COHORT_SPECS
from numpy.testing import assert_allclose
from scipy import stats

from models.frequentist import COLUMNS, bonferroni, holm, ols, per_timepoint
from models.participant import simulate_from_model

SPECS = COHORT_SPECS
PTSD, MDD = SPECS["ptsd"], SPECS["mdd"]


def set_missing(df, cells):
    """Copy of a long table with the given (participant_id, timepoint, measure) cells set to NaN."""
    df = df.copy()
    for pid, tp, measure in cells:
        hit = (df["participant_id"] == pid) & (df["timepoint"] == tp) & (df["measure"] == measure)
        assert hit.sum() == 1
        df.loc[hit, "value"] = np.nan
    return df


def wide(df, measure, timepoint):
    sub = df[(df["measure"] == measure) & (df["timepoint"] == timepoint)]
    return sub.set_index("participant_id")["value"].sort_index()


def test_ols_one_predictor_matches_linregress():
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = 2.0 - 0.7 * x + rng.normal(size=30)
    fit = ols(y, x)
    ref = stats.linregress(x, y)
    assert_allclose(fit["coef"], [ref.intercept, ref.slope], rtol=1e-12)
    assert_allclose(fit["se"], [ref.intercept_stderr, ref.stderr], rtol=1e-10)
    assert fit["p"][1] == pytest.approx(ref.pvalue, rel=1e-9)
    assert fit["df"] == 28


def test_ols_two_predictors_match_textbook_formulas():
    rng = np.random.default_rng(2)
    n = 25
    b = rng.normal(30, 8, n)
    x = 5 + 0.02 * b + rng.normal(0, 0.7, n)  # correlated predictors
    y = 10 + 0.6 * b - 3.0 * x + rng.normal(0, 4, n)
    fit = ols(y, np.column_stack([b, x]))
    # least squares by numpy directly
    design = np.column_stack([np.ones(n), b, x])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    assert_allclose(fit["coef"], coef, rtol=1e-10)
    # textbook SE of the x coefficient: sqrt(s^2 / (SST_x (1 - R^2_x|b))), no matrix inverse
    s2 = np.sum((y - design @ coef) ** 2) / (n - 3)
    r_xb = np.corrcoef(x, b)[0, 1]
    se_x = np.sqrt(s2 / (np.sum((x - x.mean()) ** 2) * (1 - r_xb**2)))
    assert fit["se"][2] == pytest.approx(se_x, rel=1e-10)
    assert fit["p"][2] == pytest.approx(2 * stats.t.sf(abs(coef[2] / se_x), n - 3), rel=1e-9)
    # the t test of the partial correlation of y and x given b (n - 3 df) is the same test
    r_yx, r_yb = np.corrcoef(y, x)[0, 1], np.corrcoef(y, b)[0, 1]
    partial = (r_yx - r_yb * r_xb) / np.sqrt((1 - r_yb**2) * (1 - r_xb**2))
    t_partial = partial * np.sqrt((n - 3) / (1 - partial**2))
    assert fit["t"][2] == pytest.approx(t_partial, rel=1e-9)
    assert fit["p"][2] == pytest.approx(2 * stats.t.sf(abs(t_partial), n - 3), rel=1e-9)


def test_ols_needs_more_cases_than_coefficients():
    with pytest.raises(ValueError, match="3 cases for 3 coefficients"):
        ols(np.arange(3.0), np.ones((3, 2)))


def test_bonferroni_and_holm_on_a_known_vector():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    assert_allclose(bonferroni(p), [0.04, 0.16, 0.12, 0.02])
    # sorted .005 .01 .03 .04 -> x4 x3 x2 x1 = .02 .03 .06 .04 -> running max .02 .03 .06 .06
    assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert_allclose(bonferroni([0.3, 0.6]), [0.6, 1.0])
    assert_allclose(holm([0.3, 0.6]), [0.6, 0.6])


def test_adjustments_skip_missing_p():
    p = np.array([0.01, np.nan, 0.04])
    assert_allclose(bonferroni(p), [0.02, np.nan, 0.08])
    assert_allclose(holm(p), [0.02, np.nan, 0.04])


@pytest.fixture(scope="module")
def mdd_table():
    df = simulate_from_model(MDD, 24, {"gamma_mean": -0.4}, seed=3)
    return set_missing(
        df,
        [
            ("S002", "final_preparation", "alliance_total"),
            ("S005", "post_1_week", "alliance_total"),
            ("S007", "baseline", "GRID-HAMD"),
            ("S009", "month_6", "GRID-HAMD"),
            ("S010", "month_6", "GRID-HAMD"),
            ("S002", "month_12", "GRID-HAMD"),
        ],
    )


def test_per_timepoint_layout_and_complete_case_counts(mdd_table):
    out = per_timepoint(mdd_table, MDD, "GRID-HAMD")
    assert list(out.columns) == COLUMNS
    assert len(out) == 2 * 4
    cell = out.set_index(["alliance_time", "followup"])
    # pairs (alliance, follow-up): final_preparation misses S002; post_1_week misses S005
    assert cell.loc[("final_preparation", "week_4"), "n_r"] == 23
    assert cell.loc[("final_preparation", "month_6"), "n_r"] == 21  # S002, S009, S010
    assert cell.loc[("final_preparation", "month_12"), "n_r"] == 23  # S002 already missing
    assert cell.loc[("post_1_week", "month_12"), "n_r"] == 22  # S005, S002
    # regression also needs baseline (S007 missing)
    assert cell.loc[("final_preparation", "week_4"), "n"] == 22
    assert cell.loc[("final_preparation", "month_6"), "n"] == 20
    assert cell.loc[("post_1_week", "month_6"), "n"] == 20  # S005, S007, S009, S010
    assert (cell["df"] == cell["n"] - 3).all()


def test_per_timepoint_matches_independent_computation(mdd_table):
    out = per_timepoint(mdd_table, MDD, "GRID-HAMD").set_index(["alliance_time", "followup"])
    for (a_name, t_name), row in out.iterrows():
        x = wide(mdd_table, "alliance_total", a_name)
        y = wide(mdd_table, "GRID-HAMD", t_name)
        b = wide(mdd_table, "GRID-HAMD", "baseline")
        pair = x.notna() & y.notna()
        ref = stats.linregress(x[pair], y[pair])
        assert row["r"] == pytest.approx(ref.rvalue, rel=1e-10)
        assert row["p_r"] == pytest.approx(ref.pvalue, rel=1e-8)
        cc = pair & b.notna()
        design = np.column_stack([np.ones(cc.sum()), b[cc], x[cc]])
        coef = np.linalg.lstsq(design, y[cc].to_numpy(), rcond=None)[0]
        sd = x[cc].std(ddof=1)
        assert row["slope_points"] == pytest.approx(coef[2] * sd, rel=1e-10)
        assert row["baseline_coef"] == pytest.approx(coef[1], rel=1e-10)
        # partial r from the residuals of y and x on baseline
        ry = y[cc] - np.polyval(np.polyfit(b[cc], y[cc], 1), b[cc])
        rx = x[cc] - np.polyval(np.polyfit(b[cc], x[cc], 1), b[cc])
        partial = np.corrcoef(ry, rx)[0, 1]
        assert row["partial_r"] == pytest.approx(partial, rel=1e-8)
        assert row["partial_r2"] == pytest.approx(partial**2, rel=1e-8)
        assert row["p"] == pytest.approx(
            2 * stats.t.sf(abs(partial) * np.sqrt((cc.sum() - 3) / (1 - partial**2)), cc.sum() - 3), rel=1e-7
        )
        assert row["se"] == pytest.approx(abs(row["slope_points"] / row["t"]), rel=1e-10)
    # adjustments over the 8 tests of the outcome
    assert_allclose(out["p_bonferroni"], np.minimum(1, 8 * out["p"]))
    assert_allclose(out["p_holm"], holm(out["p"].to_numpy()))
    assert_allclose(out["p_r_bonferroni"], np.minimum(1, 8 * out["p_r"]))
    assert (out["p_holm"] <= out["p_bonferroni"] + 1e-15).all()
    assert (out["p_holm"] >= out["p"]).all()


def test_per_timepoint_ptsd_family_has_three_tests_per_outcome():
    df = simulate_from_model(PTSD, 22, {"gamma_mean": -0.4}, seed=4)
    for outcome in PTSD["outcomes"]:
        out = per_timepoint(df, PTSD, outcome)
        assert out["alliance_time"].tolist() == PTSD["alliance_timepoints"]
        assert (out["n"] == 22).all() and (out["n_r"] == 22).all()
        assert_allclose(out["p_bonferroni"], np.minimum(1, 3 * out["p"]))


def test_per_timepoint_too_few_cases_gives_nan():
    df = simulate_from_model(PTSD, 6, {}, seed=5)
    ids = sorted(df["participant_id"].unique())
    df = set_missing(df, [(pid, "session_9", "WAI") for pid in ids[:3]])
    out = per_timepoint(df, PTSD, "CAPS-5").set_index("alliance_time")
    assert out.loc["session_9", "n"] == 3
    assert np.isnan(out.loc["session_9", ["slope_points", "p", "partial_r"]].astype(float)).all()
    assert np.isfinite(out.loc["session_9", "r"])  # 3 pairs still give an r
    assert np.isfinite(out.loc["session_4", "p"])
    # the family of adjusted p is the two finite tests
    assert_allclose(out["p_bonferroni"].dropna(), np.minimum(1, 2 * out["p"].dropna()))


def test_per_timepoint_is_independent_of_row_order(mdd_table):
    a = per_timepoint(mdd_table, MDD, "GRID-HAMD")
    b = per_timepoint(mdd_table.sample(frac=1.0, random_state=0), MDD, "GRID-HAMD")
    pd.testing.assert_frame_equal(a, b)
