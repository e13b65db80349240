"""models.log_density against PyMC's own compute_log_likelihood / compute_log_prior (the reference it replaces).

Draws are prior draws relabelled as a posterior (2 chains), so no sampling is needed; every model kind of the
pipeline is covered: Track A (interval-censored custom likelihood with indexing), the Track B outcome model
with missing alliance, baseline and follow-up cells (imputed values are free variables), the alliance model,
and a toy model with a data-only observed term and a variable without dims.
"""

import arviz as az
import numpy as np
import pymc as pm
import pytest
import xarray as xr
from conftest import COHORT_SPECS, CONFIG, published_observations

from models.log_density import log_densities
from models.participant import (
    CohortData,
    build_alliance_model,
    build_outcome_model,
    simulate_from_model,
    to_participant_prior,
)
from models.priors import to_z_prior
from models.published import PublishedData, build_published_model
from models.sampling import add_log_densities

MDD = COHORT_SPECS["mdd"]
PRIOR = to_participant_prior(CONFIG["priors"]["reference"])


def mdd_with_missing_cells() -> CohortData:
    df = simulate_from_model(MDD, 24, {"gamma_mean": -0.3}, seed=5)
    cells = [("S002", MDD["alliance_timepoints"][0], "alliance_total"), ("S007", "baseline", "GRID-HAMD"),
             ("S009", MDD["followups"][-1], "GRID-HAMD")]  # fmt: skip
    for pid, tp, measure in cells:
        hit = (df["participant_id"] == pid) & (df["timepoint"] == tp) & (df["measure"] == measure)
        assert hit.sum() == 1
        df.loc[hit, "value"] = np.nan
    return CohortData.from_long(df, MDD, "GRID-HAMD")


def track_a() -> pm.Model:
    grouping = CONFIG["published"]["grouping"]
    data = PublishedData.from_observations(published_observations(), grouping)
    return build_published_model(data, to_z_prior(CONFIG["priors"]["reference"], grouping), "fisher_z")


def toy() -> pm.Model:
    with pm.Model(coords={"group": ["a", "b", "c"]}) as model:
        sigma = pm.HalfNormal("sigma", 1.0)
        mu = pm.Normal("mu", 0.0, 1.0, dims="group")
        pm.Normal("y", mu, sigma, observed=np.array([0.1, -0.4, 1.2]), dims="group")
        pm.Normal("fixed", 0.0, 2.0, observed=np.array([[0.5, 1.0]]))  # no free variable: the same for every draw
    return model


MODELS = {
    "track_a": track_a,
    "outcome_with_missing_cells": lambda: build_outcome_model(mdd_with_missing_cells(), PRIOR),
    "alliance": lambda: build_alliance_model(mdd_with_missing_cells(), PRIOR),
    "toy": toy,
}


def as_posterior(model: pm.Model, draws: int = 40) -> az.InferenceData:
    free = [rv.name for rv in model.free_RVs]
    with model:
        prior = pm.sample_prior_predictive(draws=2 * draws, var_names=free, random_seed=3).prior
    post = xr.Dataset({
        name: (("chain", "draw", *da.dims[2:]), da.values.reshape(2, draws, *da.shape[2:]))
        for name, da in prior.data_vars.items()
    }, coords={k: v for k, v in prior.coords.items() if k not in ("chain", "draw")})  # fmt: skip
    return az.InferenceData(posterior=post.assign_coords(chain=[0, 1], draw=np.arange(draws)))


@pytest.mark.parametrize("name", MODELS)
def test_matches_pymc(name):
    model = MODELS[name]()
    idata = as_posterior(model)
    ours = log_densities(idata, model)
    kw = {"model": model, "progressbar": False, "extend_inferencedata": False}
    reference = {"log_likelihood": pm.compute_log_likelihood(idata, **kw)}
    reference["log_prior"] = pm.compute_log_prior(idata, **kw)
    for group, expected in reference.items():
        got = ours[group]
        assert list(got.data_vars) == list(expected.data_vars)
        for var in expected.data_vars:
            assert got[var].dims == expected[var].dims, (group, var)
            assert np.all(np.isfinite(got[var].values)), (group, var)
        xr.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-11)


def test_draws_are_not_mixed_up():
    """Each draw's value is that draw's own density: reversing the draws reverses the result."""
    model = toy()
    idata = as_posterior(model)
    forward = log_densities(idata, model)["log_prior"]["mu"].values
    reversed_post = idata.posterior.isel(draw=slice(None, None, -1)).assign_coords(draw=idata.posterior.draw)
    backward = log_densities(az.InferenceData(posterior=reversed_post), model)["log_prior"]["mu"].values
    np.testing.assert_array_equal(backward, forward[:, ::-1])
    assert not np.allclose(forward[:, 0], forward[:, 1])


def test_add_log_densities_keeps_a_group_the_sampler_stored():
    model = toy()
    idata = as_posterior(model)
    stored = log_densities(idata, model)["log_likelihood"] * 0.0 - 1.0  # recognisably not recomputed
    idata.add_groups(log_likelihood=stored)
    add_log_densities(idata, model)
    assert float(idata.log_likelihood["y"].max()) == -1.0
    assert "log_prior" in idata.groups()


def test_a_cached_function_gives_another_prior_sets_numbers(tmp_path, monkeypatch):
    """The function built for one prior set, loaded from the cache for another, gives exactly what a function
    built for the other gives; the second job builds nothing."""
    import models.log_density as ld

    grouping = CONFIG["published"]["grouping"]
    data = PublishedData.from_observations(published_observations(), grouping)
    model = {p: build_published_model(data, to_z_prior(CONFIG["priors"][p], grouping), "fisher_z")
             for p in ("reference", "sceptical")}  # fmt: skip
    idata = as_posterior(model["sceptical"])
    fresh = log_densities(idata, model["sceptical"], cache=tmp_path / "sceptical-only")
    log_densities(idata, model["reference"], cache=tmp_path / "shared")  # builds and stores
    monkeypatch.setattr(ld, "_build", lambda umodel: pytest.fail("built again instead of loaded"))
    cached = log_densities(idata, model["sceptical"], cache=tmp_path / "shared")
    for group in ("log_likelihood", "log_prior"):
        assert cached[group].equals(fresh[group]), group  # values, dims and coords (not the creation time)
    # the prior set matters: the reference prior's own numbers differ
    assert not np.allclose(log_densities(idata, model["reference"], cache=tmp_path / "shared")["log_prior"]["mu"],
                           cached["log_prior"]["mu"])  # fmt: skip


def test_data_held_as_constants_are_part_of_the_key(tmp_path):
    """Observations given as arrays are constants of the compiled function: other values, another entry."""
    model = toy()
    with pm.Model(coords={"group": ["a", "b", "c"]}) as other:
        sigma = pm.HalfNormal("sigma", 1.0)
        mu = pm.Normal("mu", 0.0, 1.0, dims="group")
        pm.Normal("y", mu, sigma, observed=np.array([0.1, -0.4, 9.0]), dims="group")
        pm.Normal("fixed", 0.0, 2.0, observed=np.array([[0.5, 1.0]]))
    from models.log_density import cache_key

    assert cache_key(model) != cache_key(other) and cache_key(model) == cache_key(toy())
    idata = as_posterior(model)
    first = log_densities(idata, model, cache=tmp_path)["log_likelihood"]["y"].values
    second = log_densities(idata, other, cache=tmp_path)["log_likelihood"]["y"].values
    np.testing.assert_array_equal(first[..., :2], second[..., :2])
    assert not np.allclose(first[..., 2], second[..., 2])
    assert len(list(tmp_path.glob("*.pkl"))) == 2


def test_an_unreadable_cache_entry_is_built_again(tmp_path, caplog):
    from models.log_density import cache_key

    model = toy()
    idata = as_posterior(model)
    (tmp_path / f"{cache_key(model)}.pkl").write_bytes(b"not a pickle")
    got = log_densities(idata, model, cache=tmp_path)
    expected = log_densities(idata, model, cache=tmp_path / "empty")
    assert got["log_likelihood"].equals(expected["log_likelihood"])
    assert "cache entry not used" in caplog.text
    assert (tmp_path / f"{cache_key(model)}.pkl").read_bytes() != b"not a pickle"  # replaced by a good entry
