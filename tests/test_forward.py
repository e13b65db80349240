"""models.sampling's forward draws (prior and posterior predictive, all draws in one vectorised call) against PyMC's
own per-draw samplers: the same posterior predictive draws for the same seed (to rounding), prior draws with the
same groups, dims and distribution. Models: the Track B outcome model with missing cells (imputed values are free
variables; priors are pm.Data) and a toy with a deterministic and a vector observation."""

import numpy as np
import pymc as pm
import pytest
from test_log_density import PRIOR, as_posterior, mdd_with_missing_cells

from models.participant import build_outcome_model
from models.sampling import sample_posterior_predictive, sample_prior


def toy() -> pm.Model:
    with pm.Model(coords={"group": ["a", "b", "c"]}) as model:
        scale = pm.Data("scale", 2.0)
        sigma = pm.HalfNormal("sigma", scale)
        mu = pm.Normal("mu", 1.0, scale, dims="group")
        pm.Deterministic("mu_sum", mu.sum())
        pm.Normal("y", mu, sigma, observed=np.array([0.1, -0.4, 1.2]), dims="group")
    return model


MODELS = {"outcome_with_missing_cells": lambda: build_outcome_model(mdd_with_missing_cells(), PRIOR), "toy": toy}


@pytest.mark.parametrize("name", MODELS)
def test_posterior_predictive_is_pymcs_for_the_same_seed(name):
    model = MODELS[name]()
    idata = as_posterior(model)
    idata.extend(sample_prior(model, 10, seed=1))  # constant_data: PyMC then redraws the observations only
    observed = [rv.name for rv in model.observed_RVs]
    with model:
        expected = pm.sample_posterior_predictive(idata, var_names=observed, random_seed=7, progressbar=False)
    sample_posterior_predictive(idata, model, observed, seed=7)
    for var in observed:
        got, want = idata.posterior_predictive[var], expected.posterior_predictive[var]
        assert got.dims == want.dims
        np.testing.assert_allclose(got.values, want.values, rtol=1e-10, atol=1e-12)  # same draws; sums reordered
    # and each draw used its own parameters: replicated means follow the posterior draws of mu
    if "mu" in idata.posterior:
        draws = idata.posterior["mu"].values.reshape(-1, 3)
        reps = idata.posterior_predictive["y"].values.reshape(-1, 3)
        assert np.corrcoef(draws[:, 0], reps[:, 0])[0, 1] > 0.5


@pytest.mark.parametrize("name", MODELS)
def test_prior_draws_have_pymcs_groups_and_distribution(name):
    model = MODELS[name]()
    n = 4000
    ours = sample_prior(model, n, seed=3)
    with model:
        names = [v.name for v in model.free_RVs + model.deterministics]
        theirs = pm.sample_prior_predictive(draws=n, var_names=names, random_seed=4)
    assert set(ours.groups()) == set(theirs.groups())
    for var in names:
        a, b = ours.prior[var], theirs.prior[var]
        assert a.dims == b.dims and a.shape == b.shape, var
        x, y = a.values.reshape(n, -1), b.values.reshape(n, -1)
        se = np.sqrt(x.var(0) / n + y.var(0) / n) + 1e-12
        assert np.all(np.abs(x.mean(0) - y.mean(0)) < 5 * se), var  # same mean, within Monte Carlo error
        assert np.all(x.std(0) > 0.85 * y.std(0)) and np.all(x.std(0) < 1.15 * y.std(0)), var  # same spread
    for var in theirs.constant_data.data_vars:
        np.testing.assert_array_equal(ours.constant_data[var].values, theirs.constant_data[var].values)


def test_prior_draws_from_the_cache_are_those_of_a_function_built_for_the_prior_set(tmp_path, monkeypatch):
    """The prior-draw function built under one prior set, loaded from the cache for another, draws exactly what the
    function built for the other draws with the same seed (the uncached graph of _draw_all); the second job builds
    nothing, and another seed gives other draws."""
    import xarray as xr
    from test_log_density import CONFIG

    import models.sampling as sampling
    from models.participant import to_participant_prior

    def build(prior_set):
        return build_outcome_model(mdd_with_missing_cells(), to_participant_prior(CONFIG["priors"][prior_set]))

    sceptical = build("sceptical")
    names = [v.name for v in sceptical.free_RVs + sceptical.deterministics]
    uncached = sampling._draw_all(sceptical, names, xr.Dataset(coords={"chain": [0], "draw": np.arange(300)}), 5)
    sample_prior(build("reference"), 300, seed=5, cache=tmp_path)  # builds and stores
    monkeypatch.setattr(sampling, "_prior_function", lambda *a: pytest.fail("built again instead of loaded"))
    cached = sample_prior(sceptical, 300, seed=5, cache=tmp_path)
    for name, values in zip(names, uncached, strict=True):
        np.testing.assert_array_equal(cached.prior[name].values, values, err_msg=name)
    reference = sample_prior(build("reference"), 300, seed=5, cache=tmp_path).prior
    assert not np.array_equal(reference["gamma_mean"].values, cached.prior["gamma_mean"].values)  # its own priors
    other_seed = sample_prior(sceptical, 300, seed=6, cache=tmp_path).prior
    assert not np.array_equal(other_seed["gamma_mean"].values, cached.prior["gamma_mean"].values)
    assert len(list(tmp_path.glob("*.pkl"))) == 1


def test_an_unreadable_prior_draw_entry_is_built_again(tmp_path, caplog):
    model = MODELS["toy"]()
    first = sample_prior(model, 50, seed=2, cache=tmp_path)
    (entry,) = tmp_path.glob("*.pkl")
    entry.write_bytes(b"not a pickle")
    again = sample_prior(model, 50, seed=2, cache=tmp_path)
    assert "prior-draw cache entry not used" in caplog.text
    assert again.prior.equals(first.prior)
    assert entry.read_bytes() != b"not a pickle"  # replaced by a good entry
