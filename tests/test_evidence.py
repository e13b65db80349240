"""Tests for models.evidence: what each published row says about its sample correlation r.

Rows are the real cleaned table (reanalysis.published_table.read_published) or copies of its rows with
a few fields changed, so every test sees exactly the columns the pipeline passes on. Expected bounds are
computed here from scipy.stats.t (critical r), square roots of the printed variance explained, and the
Kish design effect, not with models.correlation.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from models.evidence import COLUMNS, R_MAX, EvidenceSettings, build_observations
from reanalysis.published_table import count_covariates, read_published

DATA = Path(__file__).resolve().parents[1] / "data" / "raw" / "published" / "alliance_outcome_published.csv"


def t_critical_r(alpha, n, k=0):
    """|r| at which the two-sided t test of a (partial) correlation has p = alpha; df = n - 2 - k."""
    df = n - 2 - k
    t = stats.t.ppf(1.0 - alpha / 2.0, df)
    return t / np.sqrt(t**2 + df)


@pytest.fixture(scope="module")
def clean():
    table, _ = read_published(DATA)
    return table


def pick(clean, *row_ids, **changes):
    """Copies of the named rows with columns changed (same columns and dtypes as read_published)."""
    df = clean[clean["row_id"].isin(row_ids)].copy()
    for column, value in changes.items():
        df[column] = value
    return df.reset_index(drop=True)


def observe(df, settings=None, n_used=None):
    n_used = df.set_index("row_id")["n"] if n_used is None else n_used
    return build_observations(df, n_used, settings or EvidenceSettings())


def one(obs, row_id):
    sel = obs[obs["row_id"] == row_id]
    assert len(sel) == 1
    return sel.iloc[0]


def bounds(row):
    return [row["r_lo1"], row["r_hi1"], row["r_lo2"], row["r_hi2"]]


# ------------------------------------------------------------------ point rows
def test_r_row_is_a_point(clean):
    obs, dropped = observe(pick(clean, "L01"))
    row = one(obs, "L01")
    assert dropped == []
    assert row["kind"] == "point"
    assert row["r_obs"] == pytest.approx(-0.65)
    assert (row["n"], row["k"], row["extra_sd"]) == (24.0, 0, 0.0)
    assert row["n_eff"] == pytest.approx(24.0)
    assert bounds(row) == [0.0, 0.0, 0.0, 0.0]
    assert row["reading"] == "r = -0.65"


def test_r_with_covariates_is_a_partial_point(clean):
    covs = "age; baseline PHQ"
    df = pick(clean, "L03", covariates=covs, k=count_covariates(covs))
    row = one(observe(df)[0], "L03")
    assert row["k"] == 2
    assert row["kind"] == "point"
    assert row["r_obs"] == pytest.approx(-0.47)
    # Fisher z of a partial r with k covariates has variance 1 / (n - k - 3)
    assert 1.0 / (row["n_eff"] - 3.0) == pytest.approx(1.0 / (24 - 2 - 3))
    assert row["reading"] == "r = -0.47 (partial, 2 covariate(s))"


@pytest.mark.parametrize(("beta", "expected_r"), [(-0.3, -0.30), (0.3, 0.35), (0.0, 0.05), (-0.12, -0.12)])
def test_std_beta_is_a_peterson_brown_point_with_extra_sd(clean, beta, expected_r):
    direction = "alliance_lowers_symptoms" if beta < 0 else ("alliance_raises_symptoms" if beta > 0 else "")
    df = pick(clean, "L01", statistic="std_beta", value=beta, value_text=str(beta), direction=direction)
    row = one(observe(df, EvidenceSettings(std_beta_extra_sd=0.07))[0], "L01")
    assert row["kind"] == "point"
    assert row["r_obs"] == pytest.approx(expected_r, abs=1e-12)  # r ~ beta + .05 [beta >= 0]
    assert row["extra_sd"] == 0.07
    assert "Peterson & Brown" in row["reading"]


# ------------------------------------------------------------------ variance explained
def test_variance_explained_known_sign_widened_for_rounding(clean):
    obs, _ = observe(pick(clean, "Z02", "Z05"))
    z02, z05 = one(obs, "Z02"), one(obs, "Z05")
    assert z02["kind"] == "interval"
    # printed "0.24"-"0.29": r^2 in [.235, .295]; direction alliance_lowers_symptoms -> negative r
    assert_allclose(bounds(z02), [-np.sqrt(0.295), -np.sqrt(0.235), 0.0, 0.0], rtol=1e-14)
    # printed "0.26"-"0.40" (trailing zero kept as a printed digit): r^2 in [.255, .405]
    assert_allclose(bounds(z05), [-np.sqrt(0.405), -np.sqrt(0.255), 0.0, 0.0], rtol=1e-14)
    assert np.isnan(z02["r_obs"])
    assert z02["n_eff"] == pytest.approx(22 - 1)


def test_variance_explained_without_rounding(clean):
    obs, _ = observe(pick(clean, "Z02"), EvidenceSettings(widen_for_rounding=False))
    assert_allclose(bounds(one(obs, "Z02")), [-np.sqrt(0.29), -np.sqrt(0.24), 0.0, 0.0], rtol=1e-14)


def test_variance_explained_rounding_follows_printed_digits(clean):
    df = pick(clean, "Z02", value_low=0.2, value_low_text=".2", value_high=0.295, value_high_text=".295")
    obs, _ = observe(df)
    # ".2" -> +-.05, ".295" -> +-.0005
    assert_allclose(bounds(one(obs, "Z02")), [-np.sqrt(0.2955), -np.sqrt(0.15), 0.0, 0.0], rtol=1e-14)


def test_variance_explained_unknown_sign_gives_two_intervals(clean):
    obs, _ = observe(pick(clean, "Z02", direction=""))
    lo, hi = np.sqrt(0.235), np.sqrt(0.295)
    assert_allclose(bounds(one(obs, "Z02")), [-hi, -lo, lo, hi], rtol=1e-14)


def test_variance_explained_positive_direction(clean):
    obs, _ = observe(pick(clean, "Z02", direction="alliance_raises_symptoms"))
    assert_allclose(bounds(one(obs, "Z02")), [np.sqrt(0.235), np.sqrt(0.295), 0.0, 0.0], rtol=1e-14)


def test_variance_explained_clipped_to_valid_r(clean):
    # lower end widened below 0 and upper end above 1: |r| in [0, R_MAX]
    df = pick(clean, "Z02", value_low=0.0, value_low_text="0", value_high=1.0, value_high_text="1", direction="")
    obs, _ = observe(df)
    assert_allclose(bounds(one(obs, "Z02")), [-R_MAX, 0.0, 0.0, R_MAX], rtol=1e-14)


# ------------------------------------------------------------------ not significant / omitted
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_not_significant_partial(clean, alpha):
    obs, _ = observe(pick(clean, "Z01"), EvidenceSettings(alpha=alpha))
    row = one(obs, "Z01")
    rc = t_critical_r(alpha, 22, 1)  # n = 22 analysed, baseline CAPS partialled out: df = 19
    assert row["kind"] == "interval"
    assert_allclose(bounds(row), [-rc, rc, 0.0, 0.0], rtol=1e-12)
    assert row["reading"] == f"|r| < {rc:.3f} (not significant at alpha = {alpha}, n = 22, k = 1)"
    if alpha == 0.05:
        assert rc == pytest.approx(0.4329, abs=1e-4)


def test_omitted_row_censored(clean):
    obs, dropped = observe(pick(clean, "L02"), EvidenceSettings(omitted_rows="censor"))
    row = one(obs, "L02")
    rc = t_critical_r(0.05, 24, 0)
    assert rc == pytest.approx(0.4044, abs=1e-4)  # table value, df = 22
    assert_allclose(bounds(row), [-rc, rc, 0.0, 0.0], rtol=1e-12)
    assert row["statistic"] == "omitted_from_abstract"
    assert dropped == []


def test_omitted_row_dropped_is_logged_not_lost(clean):
    obs, dropped = observe(clean, EvidenceSettings(omitted_rows="drop"))
    assert "L02" not in set(obs["row_id"])
    assert dropped == [{"row_id": "L02", "action": "dropped", "reason": "omitted_rows: drop in config"}]
    assert len(obs) + len(dropped) == len(clean)
    assert set(obs["row_id"]) | {d["row_id"] for d in dropped} == set(clean["row_id"])


def test_every_row_dropped_raises(clean):
    with pytest.raises(ValueError, match="no observations left"):
        observe(pick(clean, "L02"), EvidenceSettings(omitted_rows="drop"))


# ------------------------------------------------------------------ significant, not after correction
def test_significant_uncorrected_bonferroni_directional(clean):
    obs, _ = observe(pick(clean, "Z04"))  # default family of 6
    row = one(obs, "Z04")
    lo, hi = t_critical_r(0.05, 22, 1), t_critical_r(0.05 / 6, 22, 1)
    assert lo < hi
    assert_allclose(bounds(row), [-hi, -lo, 0.0, 0.0], rtol=1e-12)
    assert "over 6 tests" in row["reading"]


def test_significant_uncorrected_family_by_study(clean):
    s = EvidenceSettings(family_size=6, family_size_by_study={"Zeifman2024": 3})
    row = one(observe(pick(clean, "Z04"), s)[0], "Z04")
    assert_allclose(row["r_lo1"], -t_critical_r(0.05 / 3, 22, 1), rtol=1e-12)
    assert "over 3 tests" in row["reading"]


def test_significant_uncorrected_unknown_sign(clean):
    row = one(observe(pick(clean, "Z04", direction=""))[0], "Z04")
    lo, hi = t_critical_r(0.05, 22, 1), t_critical_r(0.05 / 6, 22, 1)
    assert_allclose(bounds(row), [-hi, -lo, lo, hi], rtol=1e-12)


def test_significant_uncorrected_positive_direction(clean):
    row = one(observe(pick(clean, "Z04", direction="alliance_raises_symptoms"))[0], "Z04")
    lo, hi = t_critical_r(0.05, 22, 1), t_critical_r(0.05 / 6, 22, 1)
    assert_allclose(bounds(row), [lo, hi, 0.0, 0.0], rtol=1e-12)


@pytest.mark.parametrize("settings", [EvidenceSettings(correction="none"), EvidenceSettings(family_size=1)])
def test_significant_without_correction_is_only_a_lower_bound(clean, settings):
    # no correction in effect: the row says only |r| > critical r (not a zero-width interval)
    row = one(observe(pick(clean, "Z04"), settings)[0], "Z04")
    assert_allclose(bounds(row), [-R_MAX, -t_critical_r(0.05, 22, 1), 0.0, 0.0], rtol=1e-12)
    assert row["r_hi1"] - row["r_lo1"] > 0.5


# ------------------------------------------------------------------ n, n_eff, table shape
def test_n_used_overrides_the_table_n(clean):
    df = pick(clean, "Z01", "L01")
    obs, _ = observe(df, n_used=pd.Series({"Z01": 30, "L01": 40}))
    z01, l01 = one(obs, "Z01"), one(obs, "L01")
    assert (z01["n"], l01["n"]) == (30.0, 40.0)
    rc = t_critical_r(0.05, 30, 1)
    assert_allclose(bounds(z01), [-rc, rc, 0.0, 0.0], rtol=1e-12)
    assert (z01["n_eff"], l01["n_eff"]) == pytest.approx((29.0, 40.0))


@pytest.mark.parametrize("c", [0.0, 0.3, 1.0])
def test_design_effect_n_eff(clean, c):
    obs, _ = observe(clean, EvidenceSettings(shared_sample_error_correlation=c))
    # Zeifman2024: 6 rows, n = 22, k = 1; Levin2024: 8 rows, n = 24, k = 0
    expected = {"Zeifman2024": 3 + (22 - 1 - 3) / (1 + 5 * c), "Levin2024": 3 + (24 - 0 - 3) / (1 + 7 * c)}
    assert_allclose(obs["n_eff"], obs["study"].map(expected), rtol=1e-14)
    if c == 1.0:  # fully correlated errors: the m rows carry the information of one
        z = obs[obs["study"] == "Zeifman2024"]
        assert (z["n_eff"] - 3).sum() == pytest.approx(22 - 1 - 3)  # total Fisher information 1 / var


def test_design_effect_counts_rows_of_the_study_in_the_table(clean):
    obs, _ = observe(pick(clean, "Z01", "Z04", "L01"), EvidenceSettings(shared_sample_error_correlation=0.5))
    assert one(obs, "Z01")["n_eff"] == pytest.approx(3 + 18 / 1.5)
    assert one(obs, "L01")["n_eff"] == pytest.approx(24.0)  # only row of its study: no design effect


def test_real_table_observations(clean):
    obs, dropped = observe(clean)
    assert obs.shape[0] == 14 and dropped == []
    assert list(obs.columns[: len(COLUMNS)]) == COLUMNS
    for c in ["alliance_phase", "outcome", "outcome_timepoint", "direction", "value"]:
        assert c in obs.columns  # cleaned columns are carried along for grouping and plots
    assert list(obs["row_id"]) == list(clean["row_id"])
    assert (obs["kind"] == "point").sum() == (clean["statistic"] == "r").sum() == 7
    interval = obs["kind"] == "interval"
    assert (obs.loc[interval, "r_lo1"] < obs.loc[interval, "r_hi1"]).all()
    assert obs.loc[~interval, "r_obs"].between(-1, 1).all()
    assert obs.loc[interval, "r_obs"].isna().all()


def test_unsupported_statistic_names_the_row(clean):
    with pytest.raises(ValueError, match=re.escape("row L01: unsupported statistic 'odds_ratio'")):
        observe(pick(clean, "L01", statistic="odds_ratio"))
