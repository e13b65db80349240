"""models.posterior_expand derives what nutpie's own expand function stores: the same variables, order, dims,
coordinates and values. References: PyMC's graph of the same variables evaluated one draw at a time, and nutpie's
own compiled model (with its expand function) sampled with the same seed. No timing here."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from conftest import COHORT_SPECS, CONFIG
from numpy.testing import assert_allclose
from test_compile import _alliance_model, _model, _student_t_model

from models import nutpie_trace
from models.compile import compile_nutpie, with_data
from models.posterior_expand import Expander, expander

DRAWS = {"draws": 200, "tune": 200, "chains": 2, "cores": 1, "progress_bar": False}


def _normal_outcome_model():
    from models.participant import CohortData, build_outcome_model, simulate_from_model, to_participant_prior

    spec = COHORT_SPECS["mdd"]
    data = CohortData.from_long(simulate_from_model(spec, 24, {}, seed=3), spec, "GRID-HAMD")
    return build_outcome_model(data, to_participant_prior(CONFIG["priors"]["reference"]), "normal")


def _reads_data():
    """A deterministic of pm.Data and a parameter, one of data only, and a vector without named dimensions."""
    coords = {"g": ["a", "b", "c"]}
    with pm.Model(coords=coords) as model:
        x = pm.Data("x", np.array([0.5, -1.0, 2.0]), dims="g")
        s = pm.HalfNormal("s", 1.0)
        b = pm.Normal("b", 0.0, 1.0, shape=2)
        pm.Deterministic("fitted", b[0] + b[1] * x * s, dims="g")
        pm.Deterministic("x_mean", x.mean())
        pm.Deterministic("b_scaled", b * s)
        pm.Normal("y", b[0] + b[1] * x, s, observed=np.array([0.1, -0.4, 1.3]), dims="g")
    return model


def _one_draw_reference(model):
    """PyMC's function of one draw: the unconstrained point -> every unobserved variable, nutpie's expand graph."""
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    fn = model.compile_fn(model.unobserved_value_vars, inputs=values, point_fn=False, mode="FAST_COMPILE")
    return values, fn


@pytest.mark.parametrize(
    "build", [_model, _normal_outcome_model, _student_t_model, _alliance_model, _reads_data],
    ids=["track_a", "outcome", "student_t", "alliance", "reads_data"],
)  # fmt: skip
def test_derived_variables_are_pymcs_one_draw_at_a_time(build):
    model = build()
    values, reference = _one_draw_reference(model)
    expand = expander(model)
    point = model.initial_point()
    rng = np.random.default_rng(7)
    n_chains, n_draws = 2, 5
    draws = {v.name: rng.standard_normal((n_chains, n_draws, *np.shape(point[v.name]))) for v in values}
    import xarray as xr

    posterior = xr.Dataset({k: (("chain", "draw", *[f"{k}_{i}" for i in range(v.ndim - 2)]), v)
                            for k, v in draws.items()})  # fmt: skip
    coords = {k: list(v) for k, v in model.coords.items()}
    out = expand(posterior, {}, coords)
    names = [v.name for v in model.unobserved_value_vars]
    assert list(out.data_vars) == [v.name for v in values] + [n for n in names if n not in draws]
    for c in range(n_chains):
        for d in range(n_draws):
            expected = reference(*[draws[v.name][c, d] for v in values])
            for name, value in zip(names, expected, strict=True):
                assert_allclose(out[name].values[c, d], value, rtol=1e-13, atol=1e-15, err_msg=name)
    for name in expand.names:
        dims = model.named_vars_to_dims.get(name)
        if dims:
            assert out[name].dims == ("chain", "draw", *dims)
            assert list(out[name][dims[-1]].values) == list(model.coords[dims[-1]])


@pytest.mark.parametrize("build", [_reads_data, _alliance_model], ids=["reads_data", "alliance"])
def test_sample_gives_what_nutpies_own_expand_gives_for_the_same_seed(build):
    """Same gradient (PyTensor's), same seed: the same draws; the derived variables equal to rounding."""
    import nutpie

    model = build()
    compiled = compile_nutpie(model, "pytensor")
    assert isinstance(compiled.expand_func, Expander) and compiled.n_expanded == compiled.n_dim
    ours = nutpie_trace.sample(compiled, seed=5, **DRAWS).posterior
    theirs = nutpie.sample(nutpie.compile_pymc_model(model), seed=5, save_warmup=False, **DRAWS).posterior
    assert list(ours.data_vars) == list(theirs.data_vars)
    for name in theirs.data_vars:
        assert ours[name].dims == theirs[name].dims
        assert ours[name].dtype == theirs[name].dtype
        for dim in ours[name].dims:
            assert list(ours[dim].values) == list(theirs[dim].values)
        exact = name in expand_names_free(model)
        assert_allclose(ours[name].values, theirs[name].values, rtol=0 if exact else 1e-13, atol=0 if exact else 1e-15)


def expand_names_free(model) -> set[str]:
    return {model.rvs_to_values[rv].name for rv in model.free_RVs}


def test_with_data_reaches_the_derived_variables():
    """A deterministic of pm.Data follows the data swapped in with with_data, as nutpie's own expand function does."""
    compiled = compile_nutpie(_reads_data())
    new = np.array([3.0, 4.0, 8.0])
    post = nutpie_trace.sample(with_data(compiled, {"x": new}), seed=2, **DRAWS).posterior
    assert_allclose(post["x_mean"].values, 5.0)
    b, s = post["b"].values, post["s"].values
    assert_allclose(post["fitted"].values, b[..., :1] + b[..., 1:] * new * s[..., None], rtol=1e-13)
    assert post["b_scaled"].dims == ("chain", "draw", "b_scaled_dim_0")
