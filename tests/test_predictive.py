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
