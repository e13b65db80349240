"""Tests for models.correlation (sampling theory of Pearson's r, numpy/scipy only).

Independent references: scipy.stats.pearsonr on simulated data, the t test of a regression coefficient
(for partial correlations), the null distribution of r as a scaled beta distribution, published critical
values, and Monte Carlo simulation of bivariate normal samples.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from models.correlation import (
    Z95,
    critical_r,
    fisher_se,
    p_from_r,
    peterson_brown_r,
    residual_df,
    rounding_halfwidth,
)


def null_p_beta(r, n_pairs):
    """Two-sided p of r under rho = 0: (r + 1)/2 ~ Beta(n/2 - 1, n/2 - 1) (the form pearsonr uses)."""
    a = n_pairs / 2.0 - 1.0
    return 2.0 * stats.beta.sf((np.abs(r) + 1.0) / 2.0, a, a)


def partial_r_and_ols_p(x, y, covariates):
    """Partial correlation of x and y given covariates, and the OLS t-test p of x in y ~ 1 + x + covariates."""
    n = len(x)
    c = np.column_stack([np.ones(n), covariates])
    rx = x - c @ np.linalg.lstsq(c, x, rcond=None)[0]
    ry = y - c @ np.linalg.lstsq(c, y, rcond=None)[0]
    r = float(np.corrcoef(rx, ry)[0, 1])
    design = np.column_stack([c, x])
    beta, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ beta
    df = n - design.shape[1]
    cov = (resid @ resid / df) * np.linalg.inv(design.T @ design)
    t = beta[-1] / np.sqrt(cov[-1, -1])
    return r, float(2.0 * stats.t.sf(abs(t), df))


def test_z95_is_the_normal_975_quantile():
    assert Z95 == pytest.approx(1.959963984540054, abs=1e-12)


@pytest.mark.parametrize("n", [5, 10, 22, 24, 100])
def test_p_from_r_matches_pearsonr_on_simulated_data(n):
    rng = np.random.default_rng(n)
    for rho in (0.0, -0.4, 0.7):
        xy = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
        res = stats.pearsonr(xy[:, 0], xy[:, 1])
        assert_allclose(p_from_r(res.statistic, n), res.pvalue, rtol=1e-9, atol=1e-14)
        assert_allclose(p_from_r(res.statistic, n, k=0), res.pvalue, rtol=1e-9, atol=1e-14)


def test_p_from_r_vectorised_matches_beta_null():
    r = np.array([-0.9, -0.5, -0.1, 0.0, 0.2, 0.65])
    n = np.array([6, 12, 40, 24, 100, 24])
    got = p_from_r(r, n)
    assert got.shape == (6,)
    assert_allclose(got, null_p_beta(r, n), rtol=1e-9)
    assert got[3] == pytest.approx(1.0)


def test_p_from_r_published_levin_values():
    # Levin 2024 printed r = -.65, p = .002 and r = -.47, p = .036 with n = 24
    assert p_from_r(-0.65, 24) == pytest.approx(null_p_beta(-0.65, 24), rel=1e-9)
    assert round(float(p_from_r(-0.65, 24)), 4) == 0.0006  # printed p = .002 (n_implied in the audit)
    assert round(float(p_from_r(-0.47, 24)), 3) == 0.020


@pytest.mark.parametrize("k", [1, 2, 3])
def test_partial_correlation_df_matches_regression_t_test(k):
    rng = np.random.default_rng(100 + k)
    n = 22
    cov = rng.standard_normal((n, k))
    x = cov @ rng.normal(size=k) + rng.standard_normal(n)
    y = 0.5 * x + cov @ rng.normal(size=k) + rng.standard_normal(n)
    r, p_ols = partial_r_and_ols_p(x, y, cov)
    assert_allclose(p_from_r(r, n, k), p_ols, rtol=1e-8)
    # the partial r has the null distribution of a bivariate r from n - k pairs
    assert_allclose(p_from_r(r, n, k), null_p_beta(r, n - k), rtol=1e-8)
    # and k covariates lose k degrees of freedom: larger p than the same r with k = 0
    assert p_from_r(r, n, k) > p_from_r(r, n, 0)


def test_residual_df():
    assert_allclose(residual_df(22, 1), 19.0)
    assert_allclose(residual_df(np.array([24, 10]), np.array([0, 2])), [22.0, 6.0])


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.05 / 6])
@pytest.mark.parametrize("n", [5, 22, 24, 100])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_critical_r_inverts_p_from_r(alpha, n, k):
    rc = float(critical_r(alpha, n, k))
    assert 0.0 < rc < 1.0
    assert_allclose(p_from_r(rc, n, k), alpha, rtol=1e-9)
    assert_allclose(null_p_beta(rc, n - k), alpha, rtol=1e-9)  # independent (beta) null distribution
    assert p_from_r(rc + 1e-3 * (1.0 - rc), n, k) < alpha < p_from_r(rc * 0.999, n, k)


def test_critical_r_table_values():
    # Standard two-tailed critical values of r (df = n - 2): df 22 -> .404, df 10 -> .576, .01 level df 22 -> .515
    assert float(critical_r(0.05, 24)) == pytest.approx(0.4044, abs=5e-5)
    assert float(critical_r(0.05, 12)) == pytest.approx(0.5760, abs=5e-5)
    assert float(critical_r(0.01, 24)) == pytest.approx(0.5151, abs=5e-5)
    # partial: k covariates is n - k pairs
    assert float(critical_r(0.05, 22, 1)) == pytest.approx(float(critical_r(0.05, 21, 0)), rel=1e-12)


def test_critical_r_vectorises():
    got = critical_r(np.array([0.05, 0.05 / 6]), np.array([22, 22]), np.array([1, 1]))
    assert got.shape == (2,)
    assert got[1] > got[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (".24", 0.005),
        ("0.24", 0.005),
        ("0.3", 0.05),
        ("12", 0.5),
        ("0.40", 0.005),
        ("-0.045", 0.0005),
        ("<.05", 0.005),
        (" 0.240 ", 0.0005),
        ("+.7", 0.05),
    ],
)
def test_rounding_halfwidth(text, expected):
    assert rounding_halfwidth(text) == pytest.approx(expected, rel=1e-12)


def test_peterson_brown_r():
    # r ~ beta + .05 lambda, lambda = 1 for beta >= 0 (Peterson & Brown 2005, eq. 2)
    beta = np.array([-0.45, -0.3, -0.01, 0.0, 0.2, 0.5])
    expected = np.array([-0.45, -0.3, -0.01, 0.05, 0.25, 0.55])
    got = peterson_brown_r(beta)
    assert got.shape == beta.shape
    assert_allclose(got, expected, atol=1e-15)
    assert float(peterson_brown_r(0.3)) == pytest.approx(0.35)


def test_fisher_se_closed_form_and_monte_carlo():
    assert_allclose(fisher_se(np.array([28.0, 4.0, 103.0])), [0.2, 1.0, 0.1])
    rng = np.random.default_rng(7)
    n, reps, rho = 28, 20000, 0.3
    x = rng.standard_normal((reps, n))
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((reps, n))
    xc, yc = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    r = (xc * yc).sum(1) / np.sqrt((xc**2).sum(1) * (yc**2).sum(1))
    sd = np.arctanh(r).std(ddof=1)
    # MC standard error of an sd estimate is sd / sqrt(2 (reps - 1)) ~ 0.001
    assert sd == pytest.approx(float(fisher_se(n)), abs=0.006)
