"""The exact simulator of r against brute force, and the PPC verdicts on constructed cases."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models.exact_r import log_prob_interval_np
from models.predictive import published_ppc, simulate_r


@pytest.mark.parametrize("rho, n", [(-0.6, 22), (0.3, 8), (0.0, 50)])
def test_simulated_r_matches_brute_force_and_exact_distribution(rho, n):
    rng = np.random.default_rng(1)
    fast = simulate_r(np.full(40000, rho), n, rng)
    xy = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=(40000, n))
    brute = np.array([np.corrcoef(s[:, 0], s[:, 1])[0, 1] for s in xy[:4000]])
    assert stats.ks_2samp(fast, brute).pvalue > 1e-3
    # and against Hotelling's exact distribution: P(r < rho) by quadrature
    p_exact = np.exp(log_prob_interval_np(-1.0, rho, rho, n))
    se = np.sqrt(p_exact * (1 - p_exact) / fast.size)
    assert abs(np.mean(fast < rho) - p_exact) < 4 * se


def _obs(**row):
    base = {"row_id": "X", "statistic": "r", "kind": "point", "n_eff": 24.0, "r_obs": np.nan,
            "r_lo1": 0.0, "r_hi1": 0.0, "r_lo2": 0.0, "r_hi2": 0.0}  # fmt: skip
    return pd.DataFrame([{**base, **row}])


def test_point_row_inside_and_outside():
    rho = np.full((1, 4000), -0.5)
    inside = published_ppc(rho, _obs(r_obs=-0.5), 0, "m", "p").iloc[0]
    outside = published_ppc(rho, _obs(r_obs=0.4), 0, "m", "p").iloc[0]
    assert not inside["outside_95"] and outside["outside_95"]
    assert outside["p_observed_event"] > 0.999  # nearly every simulated r lies below 0.4


def test_interval_rows_use_the_probability_of_the_reported_event():
    rho = np.full((1, 4000), -0.5)
    fits = published_ppc(rho, _obs(kind="interval", statistic="not_significant", r_lo1=-0.9, r_hi1=-0.2), 0, "m", "p")
    misfit = published_ppc(rho, _obs(kind="interval", statistic="not_significant", r_lo1=-0.1, r_hi1=0.1), 0, "m", "p")
    assert not fits.iloc[0]["outside_95"] and misfit.iloc[0]["outside_95"]
    two = _obs(kind="interval", r_lo1=-0.9, r_hi1=-0.2, r_lo2=0.2, r_hi2=0.9)
    p_two = published_ppc(rho, two, 0, "m", "p").iloc[0]["p_observed_event"]
    assert p_two > fits.iloc[0]["p_observed_event"]  # a union of intervals is at least as probable


# --- Track B: group means ------------------------------------------------------------------------------------------


def test_group_ppc_quantiles_match_the_closed_form_and_flag_a_shifted_or_wider_group():
    """Replicates iid N(0, 1): a group mean of n values is N(0, 1/n) (95% interval +-1.96/sqrt(n)) and (n-1) SD^2
    is chi2(n-1). A group shifted by 1 (10 standard errors) must be flagged on its mean only, a group with twice
    the spread on its SD only."""
    from models.predictive import group_ppc_table, ppc_reading

    rng = np.random.default_rng(11)
    groups = np.repeat(["fu1", "fu2", "fu3", "fu4"], [100, 100, 50, 1])
    observed = rng.standard_normal(groups.size)
    observed[groups == "fu2"] += 1.0
    observed[groups == "fu3"] *= 2.0
    predicted = rng.standard_normal((groups.size, 8000))
    table = group_ppc_table(observed, predicted, groups, "m", "reference")
    means, sds = table[table.statistic == "mean"], table[table.statistic == "sd"]
    assert list(means["group"]) == ["fu1", "fu2", "fu3", "fu4"] and list(sds["group"]) == ["fu1", "fu2", "fu3"]
    for n, (_, row) in zip([100, 100, 50], means.iterrows(), strict=False):
        half = 1.959964 / np.sqrt(n)
        assert row["pred_low"] == pytest.approx(-half, abs=0.15 * half)
        assert row["pred_high"] == pytest.approx(half, abs=0.15 * half)
    for n, (_, row) in zip([100, 100, 50], sds.iterrows(), strict=True):
        lo, hi = np.sqrt(stats.chi2.ppf([0.025, 0.975], n - 1) / (n - 1))
        assert row["pred_low"] == pytest.approx(lo, rel=0.03) and row["pred_high"] == pytest.approx(hi, rel=0.03)
    assert list(means["outside_95"]) == [False, True, False, False]
    assert list(sds["outside_95"]) == [False, False, True]
    assert means.iloc[1]["p_below"] > 0.999 and sds.iloc[2]["p_below"] > 0.999
    reading = ppc_reading(table, "follow-up")
    expected = "2 of 7 observed follow-up means and SDs outside the 95% predictive interval: fu2 (mean), fu3 (sd)."
    assert reading == expected


def test_group_ppc_rejects_misaligned_inputs():
    from models.predictive import group_ppc_table

    with pytest.raises(ValueError, match="m/p: 3 observed values, 2 replicated rows and 3 group labels"):
        group_ppc_table(np.zeros(3), np.zeros((2, 10)), np.array(["a", "a", "b"]), "m", "p")
