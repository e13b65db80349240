"""Tests for models.likelihoods.observation_logp (the per-row log-likelihood of the published model).

observation_logp is compiled once per likelihood (module-scoped fixtures) with every argument symbolic,
so one compiled function serves every row type; each case is a small table of rows in the layout that
models.evidence.build_observations produces (point rows carry zero-width bounds 0, 0; interval rows
carry r_obs = NaN). References are independent: scipy.stats.norm (log-cdf / log-sf differences and
quadrature of the normal density for the deep tails, where the naive difference underflows), and
quadrature (scipy.integrate.quad) of the exact density of r from models.exact_r.log_density_np, whose
scipy implementation tests/test_exact_r.py checks against closed forms and Monte Carlo.
"""

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from conftest import scipy_log_normal_interval
from numpy.testing import assert_allclose
from scipy import integrate, special, stats

from models.exact_r import log_density_np
from models.likelihoods import (
    LIKELIHOODS,
    RowLayout,
    fisher_data,
    observation_logp,
    partitioned_fisher_logp,
    partitioned_logp,
)

ARGS = ["r_obs", "is_point", "lo1", "hi1", "lo2", "hi2", "has_second", "n_eff", "extra_sd"]


def _compile(likelihood):
    z = pt.dvector("z")
    inputs = [pt.vector(a, dtype="bool") if a in ("is_point", "has_second") else pt.dvector(a) for a in ARGS]
    out = observation_logp(z, *inputs, likelihood)
    return pytensor.function([z, *inputs], [out, pt.grad(out.sum(), z)])


@pytest.fixture(scope="module")
def fisher_fn():
    return _compile("fisher_z")


@pytest.fixture(scope="module")
def exact_fn():
    return _compile("exact")


def point(r, n_eff, extra_sd=0.0):
    return dict(r_obs=r, is_point=True, lo1=0.0, hi1=0.0, lo2=0.0, hi2=0.0, has_second=False, n_eff=n_eff,
                extra_sd=extra_sd)  # fmt: skip


def interval(lo1, hi1, n_eff, lo2=0.0, hi2=0.0, extra_sd=0.0):
    return dict(r_obs=np.nan, is_point=False, lo1=lo1, hi1=hi1, lo2=lo2, hi2=hi2, has_second=hi2 > lo2,
                n_eff=n_eff, extra_sd=extra_sd)  # fmt: skip


def evaluate(fn, rows, z):
    """(logp, dlogp/dz) per row at z (scalar or one value per row)."""
    df = pd.DataFrame(rows)
    z = np.broadcast_to(np.asarray(z, dtype=float), (len(df),)).copy()
    cols = [df[a].to_numpy(bool if a in ("is_point", "has_second") else float) for a in ARGS]
    return fn(z, *cols)


def finite_diff(fn, rows, z, h=1e-5):
    return (evaluate(fn, rows, z + h)[0] - evaluate(fn, rows, z - h)[0]) / (2 * h)


# ---------------------------------------------------------------- scipy references
ref_log_normal_interval = scipy_log_normal_interval


def quad_log_normal_interval(a, b, mu, sd):
    """log P(a < X < b), X ~ N(mu, sd), by quadrature of the density rescaled at its largest value."""
    za, zb = (a - mu) / sd, (b - mu) / sd
    anchor = float(np.clip(0.0, za, zb))
    val, _ = integrate.quad(
        lambda x: np.exp(stats.norm.logpdf(x) - stats.norm.logpdf(anchor)), za, zb, epsabs=0, epsrel=1e-13
    )
    return np.log(val) + stats.norm.logpdf(anchor)


def ref_fisher(row, z):
    sd = np.sqrt(1.0 / (row["n_eff"] - 3.0) + row["extra_sd"] ** 2)
    if row["is_point"]:
        # density of r: normal density of atanh(r) times the Jacobian 1 / (1 - r^2)
        return stats.norm.logpdf(np.arctanh(row["r_obs"]), z, sd) - np.log1p(-(row["r_obs"] ** 2))
    parts = [ref_log_normal_interval(np.arctanh(row["lo1"]), np.arctanh(row["hi1"]), z, sd)]
    if row["has_second"]:
        parts.append(ref_log_normal_interval(np.arctanh(row["lo2"]), np.arctanh(row["hi2"]), z, sd))
    return special.logsumexp(parts)


def exact_n(row):
    """Effective n of the exact density: same Fisher-z variance 1/(n - 3) + extra_sd^2."""
    return 3.0 + 1.0 / (1.0 / (row["n_eff"] - 3.0) + row["extra_sd"] ** 2)


def quad_log_exact_interval(lo, hi, rho, n):
    grid = np.linspace(lo, hi, 401)
    scale = np.max(log_density_np(grid, rho, n))
    val, _ = integrate.quad(
        lambda r: np.exp(log_density_np(r, rho, n) - scale),
        lo,
        hi,
        points=[rho] if lo < rho < hi else None,
        epsabs=0,
        epsrel=1e-12,
        limit=200,
    )
    return np.log(val) + scale


def ref_exact(row, z):
    rho, n = np.tanh(z), exact_n(row)
    if row["is_point"]:
        return float(log_density_np(row["r_obs"], rho, n))
    parts = [quad_log_exact_interval(row["lo1"], row["hi1"], rho, n)]
    if row["has_second"]:
        parts.append(quad_log_exact_interval(row["lo2"], row["hi2"], rho, n))
    return special.logsumexp(parts)


# One row of every shape build_observations makes (values from the real table: n = 22, k = 1 -> n_eff 21;
# n = 24, k = 0 -> 24; a design-effect n_eff; the Z04 Bonferroni band; Z02 variance explained).
ROWS = [
    point(-0.65, 24.0),  # r
    point(-0.30, 21.0, extra_sd=0.1),  # std_beta
    point(0.35, 9.6),  # non-integer n_eff (design effect)
    interval(-0.4329, 0.4329, 21.0),  # not_significant
    interval(-0.5429, -0.4329, 21.0),  # significant_uncorrected, sign known
    interval(-0.5429, -0.4329, 21.0, lo2=0.4329, hi2=0.5429),  # sign unknown
    interval(-np.sqrt(0.295), -np.sqrt(0.235), 21.0),  # variance explained, sign known
    interval(-np.sqrt(0.295), -np.sqrt(0.235), 21.0, lo2=np.sqrt(0.235), hi2=np.sqrt(0.295)),
    interval(-0.6, -0.3, 21.0, extra_sd=0.1),  # interval with extra sd
]
Z_VALUES = [-1.5, -0.6, 0.0, 0.45, 1.2]


# ---------------------------------------------------------------- fisher_z
@pytest.mark.parametrize("z", Z_VALUES)
def test_fisher_rows_match_scipy(fisher_fn, z):
    got, _ = evaluate(fisher_fn, ROWS, z)
    assert got.shape == (len(ROWS),)
    assert_allclose(got, [ref_fisher(r, z) for r in ROWS], rtol=1e-11, atol=1e-12)


def test_fisher_point_closed_form(fisher_fn):
    z = np.array([-0.8, 0.1])
    got, grad = evaluate(fisher_fn, [point(-0.65, 24.0), point(-0.65, 24.0, extra_sd=0.2)], z)
    sd = np.sqrt([1 / 21, 1 / 21 + 0.04])  # extra_sd inflates the sd as sqrt(1/(n - 3) + extra^2)
    assert_allclose(got, stats.norm.logpdf(np.arctanh(-0.65), z, sd) - np.log1p(-(0.65**2)), rtol=1e-13)
    assert_allclose(grad, (np.arctanh(-0.65) - z) / sd**2, rtol=1e-11)


def test_fisher_extra_sd_inflates_interval_sd(fisher_fn):
    rows = [interval(-0.6, -0.3, 21.0, extra_sd=e) for e in (0.0, 0.1, 0.3)]
    got, _ = evaluate(fisher_fn, rows, 0.2)
    sds = np.sqrt(1 / 18 + np.array([0.0, 0.01, 0.09]))
    expected = np.log(stats.norm.cdf(np.arctanh(-0.3), 0.2, sds) - stats.norm.cdf(np.arctanh(-0.6), 0.2, sds))
    assert_allclose(got, expected, rtol=1e-12)


def test_two_intervals_are_the_log_of_the_summed_probabilities(fisher_fn):
    a, b = np.arctanh([0.4329, 0.5429])
    sd = 1 / np.sqrt(18)
    rows = [interval(-0.5429, -0.4329, 21.0, lo2=0.4329, hi2=0.5429)]
    for z in (-0.7, 0.0, 0.3):
        got, _ = evaluate(fisher_fn, rows, z)
        p = stats.norm.cdf([-a, b], z, sd) - stats.norm.cdf([-b, a], z, sd)
        assert got[0] == pytest.approx(np.log(p.sum()), rel=1e-12)
    # at z = 0 both halves have equal probability: log 2 above one half
    one_half, _ = evaluate(fisher_fn, [interval(-0.5429, -0.4329, 21.0)], 0.0)
    both, _ = evaluate(fisher_fn, rows, 0.0)
    assert both[0] - one_half[0] == pytest.approx(np.log(2.0), rel=1e-12)


# rows / z far from each other: log P from -20 to about -1000, where Phi(b) - Phi(a) underflows to 0
DEEP = [
    (interval(0.9, 0.95, 100.0), -3.0),  # standardised bounds ~ +44 .. +48 (upper tail)
    (interval(0.9, 0.95, 100.0), 6.0),  # ~ -41 .. -45 (lower tail)
    (interval(-0.9999, -0.99, 24.0), 2.5),  # ~ -23 .. -34
    (interval(-0.5, 0.5, 400.0), 3.0),  # wide interval, ~ -49 .. -70
    (interval(0.2, 0.3, 24.0), -0.5),  # moderate tail
    (interval(-0.5429, -0.4329, 21.0, lo2=0.4329, hi2=0.5429), 9.0),  # both halves far below z
]


@pytest.mark.parametrize(("row", "z"), DEEP)
def test_fisher_interval_deep_tails(fisher_fn, row, z):
    got, grad = evaluate(fisher_fn, [row], z)
    expected = ref_fisher(row, z)
    assert np.isfinite(expected)
    assert got[0] == pytest.approx(expected, rel=1e-10)
    if not row["has_second"]:
        a, b = np.arctanh(row["lo1"]), np.arctanh(row["hi1"])
        assert got[0] == pytest.approx(quad_log_normal_interval(a, b, z, 1 / np.sqrt(row["n_eff"] - 3)), rel=1e-10)
    assert np.isfinite(grad[0])
    assert grad[0] == pytest.approx(finite_diff(fisher_fn, [row], z)[0], rel=1e-6)


def test_naive_difference_underflows_where_the_likelihood_does_not(fisher_fn):
    # documents why the stable form is needed: the naive reference is -inf here
    with np.errstate(divide="ignore"):
        naive = np.log(stats.norm.cdf(np.arctanh(0.95), -3.0, 0.1) - stats.norm.cdf(np.arctanh(0.9), -3.0, 0.1))
    assert naive == -np.inf
    got, _ = evaluate(fisher_fn, [interval(0.9, 0.95, 103.0)], -3.0)
    assert got[0] == pytest.approx(ref_log_normal_interval(np.arctanh(0.9), np.arctanh(0.95), -3.0, 0.1), rel=1e-10)


def test_fisher_interval_gradient_closed_form(fisher_fn):
    # d/dz log P = (phi(za) - phi(zb)) / (sd P)
    row, sd = interval(-0.5429, -0.4329, 21.0), 1 / np.sqrt(18)
    a, b = np.arctanh(-0.5429), np.arctanh(-0.4329)
    for z in (-2.0, -0.5, 0.0, 1.0, 4.0):
        got, grad = evaluate(fisher_fn, [row], z)
        za, zb = (a - z) / sd, (b - z) / sd
        expected = (np.exp(stats.norm.logpdf(za) - got[0]) - np.exp(stats.norm.logpdf(zb) - got[0])) / sd
        assert grad[0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("z", [-8.0, -2.5, -0.3, 0.0, 0.6, 3.0, 8.0])
def test_fisher_gradient_finite_for_every_row_and_matches_finite_differences(fisher_fn, z):
    got, grad = evaluate(fisher_fn, ROWS, z)
    assert np.all(np.isfinite(got))
    assert np.all(np.isfinite(grad))  # incl. point rows, whose interval branch sees zero-width bounds
    assert_allclose(grad, finite_diff(fisher_fn, ROWS, z), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- exact
@pytest.mark.parametrize("z", [-1.2, -0.35, 0.0, 0.5])
def test_exact_rows_match_scipy_density_and_quadrature(exact_fn, z):
    got, _ = evaluate(exact_fn, ROWS, z)
    assert_allclose(got, [ref_exact(r, z) for r in ROWS], rtol=1e-8, atol=1e-10)


def test_exact_point_row_is_log_density_np(exact_fn):
    z = np.array([-0.9, -0.2, 0.4])
    rows = [point(-0.65, 24.0), point(-0.47, 24.0), point(0.35, 9.6)]
    got, _ = evaluate(exact_fn, rows, z)
    expected = log_density_np([-0.65, -0.47, 0.35], np.tanh(z), [24.0, 24.0, 9.6])
    assert_allclose(got, expected, rtol=1e-9)


def test_exact_extra_sd_is_a_smaller_n_with_the_same_z_variance(exact_fn):
    got, _ = evaluate(exact_fn, [point(-0.3, 21.0, extra_sd=0.1)], -0.4)
    n_x = 3.0 + 1.0 / (1.0 / 18.0 + 0.01)
    assert 1.0 / (n_x - 3.0) == pytest.approx(1.0 / 18.0 + 0.1**2)
    assert got[0] == pytest.approx(float(log_density_np(-0.3, np.tanh(-0.4), n_x)), rel=1e-9)


def test_exact_and_fisher_agree_for_large_n(exact_fn, fisher_fn):
    # for large n the exact sampling distribution of atanh(r) is close to Fisher's normal
    rows = [interval(-0.35, -0.25, 2000.0), interval(-0.1, 0.1, 2000.0)]
    e, _ = evaluate(exact_fn, rows, np.arctanh(-0.3))
    f, _ = evaluate(fisher_fn, rows, np.arctanh(-0.3))
    assert_allclose(np.exp(e), np.exp(f), atol=5e-3)


@pytest.mark.parametrize("z", [-6.0, -1.5, -0.2, 0.0, 0.8, 6.0])
def test_exact_gradient_finite_for_every_row_and_matches_finite_differences(exact_fn, z):
    got, grad = evaluate(exact_fn, ROWS, z)
    assert np.all(np.isfinite(got))
    assert np.all(np.isfinite(grad))
    assert_allclose(grad, finite_diff(exact_fn, ROWS, z), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- partitioned graph (fixed row kinds)
@pytest.mark.parametrize("likelihood", LIKELIHOODS)
def test_partitioned_logp_equals_every_branch_everywhere(likelihood, fisher_fn, exact_fn):
    """The model's graph (each row's own branch only) gives the same values and gradients, in row order.

    The rows are shuffled so that kinds interleave, and one sign-unknown row is switched to one interval at
    run time (as a simulated replicate may do): the two-sided branch must follow ``has_second``.
    """
    rows = [ROWS[i] for i in (5, 0, 3, 7, 1, 4, 8, 2, 6)]
    layout = RowLayout.from_flags([r["is_point"] for r in rows], [r["has_second"] for r in rows])
    assert len(layout.point) == 3 and len(layout.two_sided) == 2 and len(layout.one_sided) == 4
    z = pt.dvector("z")
    names = [a for a in ARGS if a != "is_point"]
    inputs = [pt.vector(a, dtype="bool") if a == "has_second" else pt.dvector(a) for a in names]
    out = partitioned_logp(z, *inputs, likelihood, layout)
    fn = pytensor.function([z, *inputs], [out, pt.grad(out.sum(), z)])
    reference = fisher_fn if likelihood == "fisher_z" else exact_fn
    off = [dict(r) for r in rows]
    off[0].update(lo1=-0.5429, hi1=0.5429, lo2=0.0, hi2=0.0, has_second=False)  # replicate: |r| in the middle
    for table in (rows, off):
        df = pd.DataFrame(table)
        for zv in (-0.9, 0.1, 0.7):
            zz = np.linspace(zv - 0.2, zv + 0.2, len(df))
            got = fn(zz, *[df[a].to_numpy(bool if a == "has_second" else float) for a in names])
            want = evaluate(reference, table, zz)
            assert_allclose(got[0], want[0], rtol=1e-12)
            assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)


def test_fisher_graph_on_precomputed_z_inputs_equals_the_one_on_reported_r(fisher_fn):
    """The model's Fisher-z graph reads fisher_data's inputs (atanh, sd, Jacobian computed once): same values
    and gradients as the reference graph on the reported r, including a two-sided row switched off."""
    rows = [ROWS[i] for i in (5, 0, 3, 7, 1, 4, 8, 2, 6)]
    layout = RowLayout.from_flags([r["is_point"] for r in rows], [r["has_second"] for r in rows])
    names = ["z_obs", "z_lo1", "z_hi1", "z_lo2", "z_hi2", "has_second", "sd", "log_norm"]
    tensors = {n: pt.vector(n, dtype="bool") if n == "has_second" else pt.dvector(n) for n in names}
    z = pt.dvector("z")
    out = partitioned_fisher_logp(z, tensors, layout)
    fn = pytensor.function([z, *tensors.values()], [out, pt.grad(out.sum(), z)])
    off = [dict(r) for r in rows]
    off[0].update(lo1=-0.5429, hi1=0.5429, lo2=0.0, hi2=0.0, has_second=False)
    for table in (rows, off):
        df = pd.DataFrame(table)
        reported = {"r_obs": df["r_obs"].fillna(0.0).to_numpy(), "n_eff": df["n_eff"].to_numpy(),
                    "extra_sd": df["extra_sd"].to_numpy()}  # fmt: skip
        reported |= {f"r_{k}": df[k].to_numpy() for k in ("lo1", "hi1", "lo2", "hi2")}
        inputs = {**fisher_data(reported), "has_second": df["has_second"].to_numpy(bool)}
        for zv in (-0.9, 0.1, 0.7):
            zz = np.linspace(zv - 0.2, zv + 0.2, len(df))
            got = fn(zz, *[inputs[n] for n in names])
            want = evaluate(fisher_fn, table, zz)
            assert_allclose(got[0], want[0], rtol=1e-12)
            assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-12)


def test_row_layout_rejects_a_point_with_a_second_interval():
    with pytest.raises(ValueError, match=r"rows \[1\] are points with a second interval"):
        RowLayout.from_flags([False, True], [False, True])


# ---------------------------------------------------------------- argument checks
def test_unknown_likelihood_is_named():
    z = pt.dvector("z")
    with pytest.raises(ValueError, match=r"likelihood='normal'; expected one of \('fisher_z', 'exact'\)"):
        observation_logp(z, *[np.zeros(1)] * 9, "normal")
    assert LIKELIHOODS == ("fisher_z", "exact")


def test_fisher_and_exact_point_rows_are_both_densities_of_r(fisher_fn, exact_fn):
    # Fisher's approximation is accurate at large n, so once both are densities of r (not of atanh r) their
    # pointwise log-likelihoods agree closely, which keeps LOO comparable across the two likelihoods.
    rows = [point(-0.3, 400.0), point(0.5, 400.0)]
    z = np.array([-0.28, 0.52])
    fisher, _ = evaluate(fisher_fn, rows, z)
    exact, _ = evaluate(exact_fn, rows, z)
    assert_allclose(fisher, exact, atol=0.02)
    assert_allclose(exact, [log_density_np(-0.3, np.tanh(-0.28), 400.0), log_density_np(0.5, np.tanh(0.52), 400.0)])
