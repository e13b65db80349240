"""Tests for models.exact_r (Hotelling's exact density of Pearson's r).

Every test compares against an independent computation: the closed-form null
density, normalisation by scipy quad, scipy's hyp2f1, Monte Carlo simulation
of bivariate normal samples, and finite differences.

C compilation dominates the runtime on a cold PyTensor cache, so the two
numerically important graphs (density and interval probability, each with
its rho-gradient) are compiled once per module in the default (C) mode and
reused (cold PyTensor cache: ~38 s of the file's ~42 s; warm cache: ~6 s).
Other tests use PY_MODE, which evaluates the graph with the ops' Python
implementations and needs no C compilation.
"""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, special

from models import exact_r
from models.exact_r import log_density, log_density_np, log_prob_interval, log_prob_interval_np

RHO_EDGE = np.linspace(-0.95, 0.95, 39)
# Python linker: no C compilation (the "FAST_COMPILE" mode still compiles C thunks).
PY_MODE = pytensor.compile.mode.Mode(linker="py", optimizer="fast_compile")


@pytest.fixture(scope="module")
def density_fn():
    """log_density and d/drho for vectors r, rho, n (elementwise)."""
    r, rho, n = pt.dvector("r"), pt.dvector("rho"), pt.dvector("n")
    out = log_density(r, rho, n)
    return pytensor.function([r, rho, n], [out, pt.grad(out.sum(), rho)])


@pytest.fixture(scope="module")
def interval_fn():
    """log_prob_interval and d/drho for vectors lo, hi, rho, n (elementwise)."""
    lo, hi, rho, n = pt.dvector("lo"), pt.dvector("hi"), pt.dvector("rho"), pt.dvector("n")
    out = log_prob_interval(lo, hi, rho, n)
    return pytensor.function([lo, hi, rho, n], [out, pt.grad(out.sum(), rho)])


def _bcast(*args):
    return [np.ascontiguousarray(a, dtype=float) for a in np.broadcast_arrays(*args)]


def null_log_density(r, n):
    """f(r | rho=0, n) = (1-r²)^((n-4)/2) / B(1/2, (n-2)/2)."""
    return 0.5 * (n - 4.0) * np.log1p(-(r**2)) - special.betaln(0.5, 0.5 * (n - 2.0))


# ---------------------------------------------------------------- density
@pytest.mark.parametrize("n", [4.0, 5.0, 7.5, 22.0, 100.0, 500.0])
def test_null_density_matches_closed_form(density_fn, n):
    r = np.linspace(-0.995, 0.995, 41)
    expected = null_log_density(r, n)
    assert_allclose(log_density_np(r, 0.0, n), expected, rtol=0, atol=1e-10)
    got, _ = density_fn(*_bcast(r, 0.0, n))
    assert_allclose(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("rho", [-0.85, -0.3, 0.5])
@pytest.mark.parametrize("n", [5.0, 22.0, 100.0])
def test_density_integrates_to_one(density_fn, rho, n):
    def total(logf):
        val, _ = integrate.quad(lambda r: np.exp(logf(r)), -1.0, 1.0, points=[rho], epsabs=0, epsrel=1e-11, limit=200)
        return val

    assert total(lambda r: log_density_np(r, rho, n)) == pytest.approx(1.0, abs=1e-9)
    assert total(lambda r: density_fn([r], [rho], [n])[0][0]) == pytest.approx(1.0, abs=1e-9)


def test_hyp2f1_series_matches_scipy():
    # The fixed-length series is the accuracy bottleneck: worst case is the
    # smallest n (slowest-decaying terms) at the largest x.
    x = np.array([1e-3, 0.1, 0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995])
    n = np.array([4.0, 4.2, 4.5, 5.0, 6.0, 10.0, 22.0, 100.0, 500.0])
    xx, nn = (a.ravel() for a in np.meshgrid(x, n))
    c = nn - 0.5
    xv, cv = pt.dvector("x"), pt.dvector("c")
    fn = pytensor.function([xv, cv], exact_r._log_hyp2f1_half(cv, pt.log(xv)), mode=PY_MODE)
    rel_err = np.expm1(fn(xx, c) - np.log(special.hyp2f1(0.5, 0.5, c, xx)))
    assert np.max(np.abs(rel_err)) < 1e-9


def test_pytensor_density_matches_scipy(density_fn):
    # Grid with rho * r up to 0.995² ≈ 0.990, i.e. 2F1 argument up to 0.995.
    r = np.array([-0.995, -0.99, -0.9, -0.5, 0.0, 0.4, 0.95, 0.99, 0.995])
    rho = np.array([-0.995, -0.95, -0.6, 0.0, 0.3, 0.9, 0.995])
    n = np.array([4.0, 4.5, 5.0, 10.0, 22.0, 100.0, 500.0])
    rr, pp, nn = (a.ravel() for a in np.meshgrid(r, rho, n, indexing="ij"))
    assert np.max(rr * pp) == pytest.approx(0.995**2)
    got, _ = density_fn(rr, pp, nn)
    expected = log_density_np(rr, pp, nn)
    assert np.all(np.isfinite(expected))
    assert_allclose(got, expected, rtol=0, atol=1e-8)


def test_density_broadcasts_numpy_inputs():
    rho = pt.dscalar("rho")
    r = np.linspace(-0.9, 0.9, 7)[:, None]
    n = np.array([5.0, 30.0])
    fn = pytensor.function([rho], log_density(r, rho, n), mode=PY_MODE)
    out = fn(-0.4)
    assert out.shape == (7, 2)
    assert_allclose(out, log_density_np(r, -0.4, n), rtol=0, atol=1e-10)


# ---------------------------------------------------------------- intervals
def test_interval_probabilities_match_monte_carlo(interval_fn):
    n, rho, n_sim = 22, -0.6, 200_000
    rng = np.random.default_rng(20240611)
    x = rng.standard_normal((n_sim, n))
    y = rho * x + np.sqrt(1.0 - rho**2) * rng.standard_normal((n_sim, n))
    x -= x.mean(axis=1, keepdims=True)
    y -= y.mean(axis=1, keepdims=True)
    r_sim = (x * y).sum(axis=1) / np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))

    lo, hi = np.array([-1.0, -0.5]), np.array([-0.7, -0.3])
    p_exact = np.exp(interval_fn(*_bcast(lo, hi, rho, n))[0])
    p_mc = np.array([np.mean(r_sim < -0.7), np.mean((r_sim > -0.5) & (r_sim < -0.3))])
    se = np.sqrt(p_exact * (1.0 - p_exact) / n_sim)
    assert np.all(np.abs(p_mc - p_exact) < 4.0 * se), (p_mc, p_exact, se)


INTERVAL_CASES = [
    # (lo, hi, rho, n)
    (-0.655, -0.645, -0.6, 22.0),  # narrow (rounding interval), near the mode
    (-0.655, -0.645, 0.4, 100.0),  # narrow, far in the tail
    (0.2995, 0.3005, 0.3, 500.0),  # very narrow, spiky density
    (-0.99, 0.99, -0.6, 22.0),  # wide
    (-0.99, 0.99, 0.9, 5.0),
    (-0.99, 0.99, 0.0, 4.0),
    (-1.0, 1.0, 0.95, 4.0),
    (-1.0, 1.0, -0.3, 500.0),
    (-1.0, -0.7, -0.6, 22.0),  # one-sided
    (0.5, 1.0, -0.6, 22.0),  # deep upper tail
    (-1.0, -0.9, 0.3, 100.0),  # deep lower tail
    (-1.0, 0.0, 0.9, 500.0),  # extremely deep tail (log P ~ -500)
    (0.97, 1.0, 0.95, 7.5),  # mass piled up against +1
    (0.999, 1.0, 0.5, 4.5),
    (-0.2, 0.6, 0.1, 4.0),
]


def test_interval_matches_quad(interval_fn):
    lo, hi, rho, n = (np.array(v) for v in zip(*INTERVAL_CASES, strict=True))
    got, grad = interval_fn(lo, hi, rho, n)
    expected = log_prob_interval_np(lo, hi, rho, n)
    assert_allclose(got, expected, rtol=0, atol=1e-8)
    assert np.all(np.isfinite(grad))
    assert expected[-4] < -400  # the deep-tail case really is deep


@pytest.mark.parametrize("n", [4.0, 22.0, 500.0])
def test_total_probability_is_one(interval_fn, n):
    rho = np.array([-0.95, -0.5, 0.0, 0.7, 0.95])
    got, grad = interval_fn(*_bcast(-1.0, 1.0, rho, n))
    assert_allclose(got, 0.0, atol=1e-10)
    # d/drho log P(-1 < r < 1) = 0
    assert_allclose(grad, 0.0, atol=1e-8)


def test_interval_numpy_bounds_broadcast_against_scalar_rho():
    lo = np.array([-1.0, -0.655, 0.1])
    hi = np.array([-0.7, -0.645, 1.0])
    rho = pt.dscalar("rho")
    fn = pytensor.function([rho], log_prob_interval(lo, hi, rho, 22.0), mode=PY_MODE)
    out = fn(-0.6)
    assert out.shape == (3,)
    assert_allclose(out, log_prob_interval_np(lo, hi, -0.6, 22.0), rtol=0, atol=1e-8)


def test_adjacent_intervals_add_up(interval_fn):
    # P(lo < r < mid) + P(mid < r < hi) = P(lo < r < hi), with independent node sets.
    lo, mid, hi = -0.8, -0.62, 0.1
    rho, n = np.array([-0.6, 0.2]), np.array([15.0, 60.0])
    left, _ = interval_fn(*_bcast(lo, mid, rho, n))
    right, _ = interval_fn(*_bcast(mid, hi, rho, n))
    whole, _ = interval_fn(*_bcast(lo, hi, rho, n))
    assert_allclose(np.logaddexp(left, right), whole, rtol=0, atol=1e-11)


# ---------------------------------------------------------------- gradients
def _central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2.0 * h)


@pytest.mark.parametrize("n", [4.5, 22.0, 300.0])
def test_density_gradient_finite_differences(density_fn, n):
    r = np.linspace(-0.9, 0.9, RHO_EDGE.size)[::-1].copy()
    nn = np.full_like(r, n)
    val, grad = density_fn(r, RHO_EDGE, nn)
    assert np.all(np.isfinite(val)) and np.all(np.isfinite(grad))
    fd = _central_difference(lambda p: log_density_np(r, p, nn), RHO_EDGE)
    assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * n)


@pytest.mark.parametrize(
    ("lo", "hi", "n"),
    [(-0.655, -0.645, 22.0), (-1.0, -0.7, 22.0), (0.5, 1.0, 8.0), (-0.99, 0.99, 100.0), (0.1, 0.3, 4.0)],
)
def test_interval_gradient_finite_differences(interval_fn, lo, hi, n):
    lo_a, hi_a, nn = _bcast(lo, hi, n * np.ones_like(RHO_EDGE))
    val, grad = interval_fn(lo_a, hi_a, RHO_EDGE, nn)
    assert np.all(np.isfinite(val)) and np.all(np.isfinite(grad))
    fd = _central_difference(lambda p: interval_fn(lo_a, hi_a, p, nn)[0], RHO_EDGE)
    assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)


def test_verify_grad_wrt_rho():
    rng = np.random.default_rng(7)
    r, n = np.array([-0.7, 0.1, 0.95]), np.array([4.0, 22.0, 150.0])
    pytensor.gradient.verify_grad(
        lambda rho: log_density(r, rho, n), [np.array([-0.9, 0.35, 0.92])], rng=rng, mode=PY_MODE
    )
    lo, hi = np.array([-1.0, -0.655, 0.9]), np.array([-0.7, -0.645, 1.0])
    pytensor.gradient.verify_grad(
        lambda rho: log_prob_interval(lo, hi, rho, n), [np.array([-0.6, 0.2, 0.8])], rng=rng, mode=PY_MODE
    )
