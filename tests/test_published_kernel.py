"""Tests for models.published_kernel: the hand-written Track A log density and gradient.

References: PyMC's own log density and gradient of the same model compiled with the C backend (a code path
independent of the numba one the kernel is checked against at run time), on the real published table and on
a variant with sign-unknown rows (two intervals), with and without the second interval; the C callback nutpie
calls, against PyMC's log density, after ``with_data`` swaps in another prior set and other observations; one
row's interval probability against scipy. No MCMC.
"""

import numpy as np
import pytest
from conftest import (
    CONFIG,
    assert_callback_agrees,
    assert_kernel_agrees,
    call_nutpie_logp,
    published_observations,
    scipy_log_normal_interval,
    shared_values,
)
from numpy.testing import assert_allclose

from models import compile as mc
from models.priors import to_z_prior
from models.published import PublishedData, build_published_model, prior_data
from models.published_kernel import TWO_SIDED, KernelLayout, _log_interval, wrapper

GROUPING = CONFIG["published"]["grouping"]


def _model(obs, prior="reference", grouping=GROUPING):
    data = PublishedData.from_observations(obs, grouping)
    return build_published_model(data, to_z_prior(CONFIG["priors"][prior], grouping), "fisher_z"), data


def _sign_unknown(obs):
    """The published rows with every interval row's sign made unknown: r in [lo, hi] or in [-hi, -lo]."""
    obs = obs.copy()
    interval = obs["kind"] != "point"
    obs.loc[interval, "r_lo2"], obs.loc[interval, "r_hi2"] = -obs.loc[interval, "r_hi1"], -obs.loc[interval, "r_lo1"]
    return obs


def _kernel(model, data):
    """The kernel reading every pm.Data of the model, and their names."""
    names = [v.name for v in model.data_vars]
    return wrapper(KernelLayout.from_model(model, data), names), names


def _assert_agree(model, data, seed):
    kernel, names = _kernel(model, data)
    assert_kernel_agrees(kernel, model, names, seed)


def test_kernel_matches_pymc_on_the_published_table():
    _assert_agree(*_model(published_observations()), seed=1)


def test_kernel_matches_pymc_with_another_grouping_in_config():
    """published.grouping is a config choice: fewer terms, in another order, give other positions and indices."""
    model, data = _model(published_observations(), grouping=["outcome", "study"])
    assert KernelLayout.from_model(model, data).terms == ("outcome", "study")
    _assert_agree(model, data, seed=5)


def test_kernel_matches_pymc_with_sign_unknown_rows_with_and_without_their_second_interval():
    model, data = _model(_sign_unknown(published_observations()), prior="sceptical")
    assert np.sum(KernelLayout.from_model(model, data).kinds == TWO_SIDED) >= 3
    _assert_agree(model, data, seed=2)
    # SBC's simulated data may drop a second interval (has_second 0) without changing the compiled structure
    flags = model["obs_has_second"].get_value().copy()
    flags[np.flatnonzero(flags)[::2]] = 0.0
    model["obs_has_second"].set_value(flags)
    _assert_agree(model, data, seed=3)


def test_nutpie_samples_with_the_kernel_and_with_data_reaches_it():
    """The C callback nutpie calls returns the kernel's values, for the compiled data and after with_data."""
    if not mc.enable()["nutpie_patched"]:
        pytest.skip("nutpie version changed: no hand-written gradient (see models/compile.py)")
    model, _ = _model(published_observations())
    compiled = mc.compile_nutpie(model, "handwritten")
    sceptical = prior_data(to_z_prior(CONFIG["priors"]["sceptical"], GROUPING))
    sd = model["obs_sd"].get_value() / np.sqrt(2.0)  # about twice the n
    swapped = mc.with_data(compiled, {**sceptical, "obs_sd": sd})
    xs = 0.7 * np.random.default_rng(4).standard_normal((5, compiled.n_dim))
    seen = assert_callback_agrees(model, (compiled, swapped), xs)
    assert np.all(np.abs(np.subtract(seen[:5], seen[5:])) > 1.0)  # the swapped values did reach the kernel
    status = call_nutpie_logp(compiled, np.full(compiled.n_dim, np.nan))[0]
    assert status == 3  # a non-finite gradient is reported to nutpie


@pytest.mark.parametrize(
    "a, b, mu",
    [
        (-0.5, 0.2, 0.1),  # the bulk: the two CDFs subtracted directly
        (0.3, 0.9, -0.2),  # the upper tail, reflected
        (-3.0, -0.1, 0.1),  # one bound far out
        (0.235, 0.245, 0.0),  # a rounding interval: little cancelled, still direct
        (0.24, 0.24001, -0.3),  # narrower than the direct difference allows: log domain
        (-9.0, -8.0, 0.0),  # beyond _DIRECT_MIN: log domain
        (-np.inf, 0.1, 0.4),  # one-sided
        (0.1, np.inf, -0.6),
    ],
)
def test_log_interval_matches_scipy_in_both_branches(a, b, mu):
    """log P(a < Y < b) and its derivative in mu, against scipy's log CDFs and their central difference."""
    sd, h = 0.2, 1e-6
    lp, d_mu = _log_interval(a, b, mu, sd)
    assert_allclose(lp, scipy_log_normal_interval(a, b, mu, sd), rtol=1e-11, atol=1e-12)
    numeric = (scipy_log_normal_interval(a, b, mu + h, sd) - scipy_log_normal_interval(a, b, mu - h, sd)) / (2 * h)
    assert_allclose(d_mu, numeric, rtol=1e-5, atol=1e-7)


def test_a_model_with_a_kernel_compiles_no_pytensor_log_density(monkeypatch):
    """With a hand-written kernel, nutpie compiles no PyTensor function: not the log density and gradient (the
    kernel's), not the expand function (models.posterior_expand derives the deterministics afterwards); the
    stand-in refuses to run, and nutpie's helpers are restored after the compile."""
    if not mc.enable()["nutpie_patched"]:
        pytest.skip("nutpie version changed: no hand-written gradient (see models/compile.py)")
    import nutpie.compile_pymc as cp
    import pymc.pytensorf as pf

    original = pf.compile
    compiled_with = []

    def counting(inputs, outputs, *args, **kwargs):
        compiled_with.append(sorted(kwargs))
        return original(inputs, outputs, *args, **kwargs)

    monkeypatch.setattr(pf, "compile", counting)
    make_functions, compute_shapes = cp._make_functions, cp._compute_shapes
    model, _ = _model(published_observations())
    compiled = mc.compile_nutpie(model, "handwritten")
    # neither the log density (the kernel's) nor the expand function (derived afterwards: models.posterior_expand)
    assert compiled_with == []
    assert (pf.compile, cp._make_functions, cp._compute_shapes) == (counting, make_functions, compute_shapes)
    with pytest.raises(RuntimeError, match="hand-written kernel"):
        compiled.logp_func.vm.jit_fn(np.zeros(compiled.n_dim))
    read = {v.name for v in compiled.logp_func.get_shared()}
    assert {"prior_mu_mean", "prior_sigma_residual", "obs_z_obs", "obs_sd"} <= read <= {v.name for v in model.data_vars}


def test_a_kernel_out_of_step_with_the_model_stops_the_compile():
    """The run-time check: a kernel whose structure no longer matches the model (here: rows assigned to the
    wrong studies, as after a change to the grouping the kernel did not follow) is rejected, naming the way out.
    """
    model, data = _model(published_observations())
    kernel, names = _kernel(model, data)
    n_dim = sum(np.size(v) for v in model.initial_point().values())
    good = KernelLayout.from_model(model, data)
    wrong = KernelLayout(**{**good.__dict__, "group_index": good.group_index[:, ::-1].copy()})
    shared = shared_values(model, names)
    assert mc.check_against(kernel, kernel, n_dim, shared) == 0.0
    with pytest.raises(mc.KernelMismatch, match=r"\(models\.published_kernel\).*sampler.gradient: pytensor"):
        mc.check_against(wrapper(wrong, names), kernel, n_dim, shared)
    # nor does a check pass that had nothing to compare with (a reference undefined everywhere)
    undefined = lambda x, *_: (np.nan, np.full_like(x, np.nan))  # noqa: E731
    with pytest.raises(mc.KernelMismatch, match="finite at only 0 of 24"):
        mc.check_against(kernel, undefined, n_dim, shared)


def test_a_model_with_a_parameter_the_kernel_does_not_know_is_rejected():
    import pymc as pm

    model, data = _model(published_observations())
    with model:
        pm.Normal("extra", 0.0, 1.0)
    with pytest.raises(mc.KernelMismatch, match="'extra'"):
        KernelLayout.from_model(model, data)


def test_an_unknown_gradient_choice_fails():
    with pytest.raises(ValueError, match="sampler.gradient='numba'"):
        mc.compile_nutpie(_model(published_observations())[0], "numba")
