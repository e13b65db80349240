"""models.nutpie_trace builds from nutpie's raw trace exactly the InferenceData nutpie's own conversion builds
(reference: nutpie.sample's ``_arrow_to_arviz`` on the same record batches, and nutpie.sample itself with the same
seed), for the pipeline's model kinds and for a trace it hands back to nutpie's conversion. No timing here."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from conftest import CONFIG, published_observations

from models import nutpie_trace
from models.compile import compile_nutpie
from models.priors import to_z_prior
from models.published import PublishedData, build_published_model

DRAWS = {"draws": 300, "tune": 200, "chains": 3, "cores": 1, "progress_bar": False}


def raw_trace(compiled, seed: int = 5):
    import nutpie

    return nutpie.sample(compiled, seed=seed, return_raw_trace=True, save_warmup=False, **DRAWS).get_arrow_trace()


# nutpie's own conversion, called as nutpie.sample calls it (that call is held to nutpie.sample below); taken
# before any test replaces the module's name for it
_NUTPIES_OWN = nutpie_trace._nutpies_own


def nutpies(draws, stats, compiled):
    """What nutpie.sample returns for these batches."""
    return _NUTPIES_OWN(draws, stats, compiled.coords)


def assert_same(ours, theirs):
    assert ours.groups() == theirs.groups() == ["posterior", "sample_stats"]
    for group in ("posterior", "sample_stats"):
        a, b = ours[group], theirs[group]
        assert list(a.data_vars) == list(b.data_vars)
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())  # values, dtypes, dims, coordinates
        assert a.attrs.keys() == b.attrs.keys()  # created_at differs by the time between the two


def track_a():
    cfg = CONFIG["published"]
    data = PublishedData.from_observations(published_observations(), cfg["grouping"])
    return build_published_model(data, to_z_prior(CONFIG["priors"]["reference"], cfg["grouping"]), cfg["likelihood"])


def two_dims():
    """A matrix variable (two named dimensions), a deterministic and an integer-free positive scale."""
    coords = {"a": ["x", "y"], "b": [0.5, 1.5, 2.5]}
    with pm.Model(coords=coords) as model:
        m = pm.Normal("m", 0.0, 1.0, dims=("a", "b"))
        s = pm.HalfNormal("s", 1.0)
        pm.Deterministic("ms", m.sum(axis=1) * s, dims="a")
        pm.Normal("y", m.sum(), s + 1.0, observed=np.array([0.3, -0.1]))
    return model


@pytest.mark.parametrize("build", [track_a, two_dims], ids=["track_a", "two_dims"])
def test_the_trace_is_nutpies_own_conversion(build, monkeypatch):
    def refuse(*_):
        raise AssertionError("built by nutpie's conversion, not by nutpie_trace's")

    monkeypatch.setattr(nutpie_trace, "_nutpies_own", refuse)
    compiled = compile_nutpie(build())
    draws, stats = raw_trace(compiled)
    ours = nutpie_trace.to_inference_data(draws, stats, compiled.coords)
    assert ours.posterior.sizes["chain"] == 3 and ours.posterior.sizes["draw"] == 300  # tuning rows dropped
    assert "tuning" in ours.sample_stats and not ours.sample_stats["tuning"].any()
    assert_same(ours, nutpies(draws, stats, compiled))


def test_sample_gives_what_nutpie_sample_gives_for_the_same_seed():
    import nutpie

    compiled = compile_nutpie(two_dims())
    ours = nutpie_trace.sample(compiled, seed=11, **DRAWS)
    assert ours.posterior["m"].dims == ("chain", "draw", "a", "b")
    # what nutpie_trace derives afterwards (s, ms) is not in nutpie's trace: tests/test_posterior_expand.py
    assert list(compiled.expand_func.names) == ["s", "ms"]
    ours.posterior = ours.posterior.drop_vars(compiled.expand_func.names)
    assert_same(ours, nutpie.sample(compiled, seed=11, save_warmup=False, **DRAWS))


def test_a_variable_without_named_dimensions_goes_to_nutpies_conversion():
    with pm.Model() as model:
        pm.Normal("v", 0.0, 1.0, shape=3)  # no dims: ArviZ names them v_dim_0 and numbers them
    compiled = compile_nutpie(model)
    draws, stats = raw_trace(compiled)
    assert nutpie_trace._dataset(draws, [0] * len(draws), set(), compiled.coords) is None
    ours = nutpie_trace.to_inference_data(draws, stats, compiled.coords)
    assert ours.posterior["v"].dims == ("chain", "draw", "v_dim_0")
    assert_same(ours, nutpies(draws, stats, compiled))


def test_chains_of_unequal_length_go_to_nutpies_conversion():
    compiled = compile_nutpie(two_dims())
    draws, stats = raw_trace(compiled)
    draws[1], stats[1] = draws[1].slice(0, draws[1].num_rows - 7), stats[1].slice(0, stats[1].num_rows - 7)
    ours = nutpie_trace.to_inference_data(draws, stats, compiled.coords)
    assert int(ours.posterior["m"].isel(chain=1).isnull().any(["a", "b"]).sum()) == 7  # nutpie pads with NaN
    assert_same(ours, nutpies(draws, stats, compiled))
