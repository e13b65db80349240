"""Tests for reanalysis.convergence: R-hat, bulk/tail ESS and E-BFMI of many scalars at once.

Reference: ArviZ's own ``rhat``, ``ess`` and ``bfmi`` (the implementation the gate used before, and the
definitions the thresholds refer to) on the same draws, and scipy's ``rankdata`` for the ranks: AR(1) chains
from near-independent to sticky, an odd number of draws (split chains drop the middle one), repeated values
(ties), constant, non-finite, single-chain and too-short scalars (ArviZ's special cases).
"""

import arviz as az
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from reanalysis import convergence as cv


def _ar1(rng, n, chains, draws, phi):
    x = np.zeros((n, chains, draws))
    noise = rng.standard_normal((n, chains, draws))
    for t in range(1, draws):
        x[:, :, t] = phi[:, None] * x[:, :, t - 1] + noise[:, :, t]
    return x + rng.normal(0, 0.3, (n, chains, 1))  # chains that disagree a little: R-hat above 1


def _arviz(a):
    ds = az.convert_to_dataset({"x": np.moveaxis(a, 0, -1)})
    return {
        "r_hat": az.rhat(ds)["x"].values,
        "ess_bulk": az.ess(ds, method="bulk")["x"].values,
        "ess_tail": az.ess(ds, method="tail")["x"].values,
    }


CASES = {
    "ar1, odd draws": lambda rng: _ar1(rng, 12, 4, 801, np.linspace(0.0, 0.95, 12)),
    "two chains": lambda rng: _ar1(rng, 5, 2, 500, np.full(5, 0.5)),
    "ties": lambda rng: rng.integers(0, 4, (6, 4, 300)).astype(float),
    "constant and near-constant": lambda rng: np.stack(
        [np.ones((4, 100)), 1.0 + np.finfo(float).eps * rng.integers(0, 2, (4, 100))]
    ),
    "one chain": lambda rng: rng.standard_normal((3, 1, 200)),
    "three draws": lambda rng: rng.standard_normal((2, 4, 3)),
}


@pytest.mark.parametrize("case", CASES)
def test_rhat_and_ess_match_arviz(case):
    a = CASES[case](np.random.default_rng(list(CASES).index(case)))
    ours, theirs = cv.rhat_ess(a), _arviz(a)
    for key in ("r_hat", "ess_bulk", "ess_tail"):
        assert_allclose(ours[key], theirs[key], rtol=1e-10, equal_nan=True, err_msg=key)
    assert_allclose(cv.rhat(a), theirs["r_hat"], rtol=1e-10, equal_nan=True)
    assert_allclose(cv.ess_bulk(a), theirs["ess_bulk"], rtol=1e-10, equal_nan=True)


def test_a_scalar_with_non_finite_draws_gets_arviz_handling_and_the_others_are_unaffected():
    rng = np.random.default_rng(7)
    a = _ar1(rng, 4, 4, 300, np.full(4, 0.3))
    a[1, 2, 10] = np.nan
    ours, theirs = cv.rhat_ess(a), _arviz(a)
    for key in ("r_hat", "ess_bulk", "ess_tail"):
        assert_allclose(ours[key], theirs[key], rtol=1e-10, equal_nan=True, err_msg=key)
    assert np.isnan(ours["r_hat"][1]) and np.isfinite(ours["r_hat"][[0, 2, 3]]).all()


def test_sticky_chains_have_high_rhat_and_low_ess():
    """Not only equal to ArviZ: the diagnostics separate mixed from unmixed chains."""
    rng = np.random.default_rng(3)
    mixed = rng.standard_normal((1, 4, 1000))
    stuck = mixed + np.array([0.0, 0.0, 3.0, 3.0])[None, :, None]
    out = cv.rhat_ess(np.concatenate([mixed, stuck]))
    assert out["r_hat"][0] < 1.01 < 1.5 < out["r_hat"][1]
    assert out["ess_bulk"][0] > 3000 > 100 > out["ess_bulk"][1]


def test_average_ranks_match_scipy_with_and_without_ties():
    rng = np.random.default_rng(5)
    flat = np.concatenate([rng.standard_normal((3, 500)), rng.integers(0, 7, (3, 500)).astype(float)])
    assert np.array_equal(cv._average_ranks(flat), stats.rankdata(flat, method="average", axis=1))


def test_bfmi_matches_arviz():
    rng = np.random.default_rng(2)
    energy = np.cumsum(rng.standard_normal((4, 500)), axis=1) * 0.1 + rng.standard_normal((4, 500))
    assert_allclose(cv.bfmi(energy), az.bfmi(energy), rtol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_ess_mean_matches_arviz(case):
    a = CASES[case](np.random.default_rng(10 + list(CASES).index(case)))
    ds = az.convert_to_dataset({"x": np.moveaxis(a, 0, -1)})
    assert_allclose(cv.ess_mean(a), az.ess(ds, method="mean")["x"].values, rtol=1e-10, equal_nan=True)


def test_relative_ess_is_the_reff_arviz_loo_computes():
    """az.loo's own reff (mean ESS of the mean over every posterior scalar / draws), on a posterior of mixed
    shapes; an autocorrelated scalar makes it clearly below 1."""
    rng = np.random.default_rng(3)
    posterior = az.convert_to_dataset({
        "a": np.moveaxis(_ar1(rng, 3, 4, 500, np.array([0.0, 0.5, 0.9])), 0, -1),
        "b": rng.standard_normal((4, 500)),
    })  # fmt: skip
    n = 4 * 500
    ess = az.ess(posterior, method="mean")
    expected = np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / n
    assert cv.relative_ess(posterior) == pytest.approx(expected, rel=1e-10)
    assert cv.relative_ess(posterior) < 0.9
    assert cv.relative_ess(posterior.isel(chain=[0])) == 1.0  # as az.loo with one chain
