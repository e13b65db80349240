"""models.log_density: the pointwise log-likelihood and log prior that nutpie's compiled code evaluates while
it samples must equal what PyMC's own functions compute from the same draws (another implementation), for
the Track A model on the real published table and a participant model with missing cells (imputed
values are free variables, the observed part has its own name); the model is left as it was."""

import numpy as np
import pymc as pm
import pytest
from conftest import COHORT_SPECS, CONFIG, published_observations
from numpy.testing import assert_allclose

from models import log_density
from models.participant import CohortData, build_outcome_model, simulate_from_model, to_participant_prior
from models.priors import to_z_prior
from models.published import PublishedData, build_published_model
from models.sampling import SamplerSettings, fit, nutpie_draw


def track_a():
    grouping = CONFIG["published"]["grouping"]
    data = PublishedData.from_observations(published_observations(), grouping)
    return build_published_model(data, to_z_prior(CONFIG["priors"]["reference"], grouping), "fisher_z")


def mdd_with_missing():
    spec = COHORT_SPECS["mdd"]
    df = simulate_from_model(spec, 24, {"gamma_mean": -0.3}, seed=11)
    df.loc[df.index[[3, 40, 77]], "value"] = np.nan  # two alliance ratings and one GRID-HAMD follow-up
    prior = to_participant_prior(CONFIG["priors"]["reference"])
    return build_outcome_model(CohortData.from_long(df, spec, "GRID-HAMD"), prior)


def state(model):
    return [d.name for d in model.deterministics], sorted(model.named_vars), dict(model.named_vars_to_dims)


@pytest.mark.parametrize("build", [track_a, mdd_with_missing], ids=["track_a", "mdd_missing_cells"])
def test_nutpie_log_densities_equal_pymc_ones(build):
    from models.compile import compile_nutpie

    model = build()
    before = state(model)
    draw = nutpie_draw(compile_nutpie(model))
    assert state(model) == before, "compiling left the log-density deterministics in the model"
    idata = draw(SamplerSettings(chains=2, draws=100, tune=200, target_accept=0.9), 3)
    assert not [n for n in idata.posterior.data_vars if str(n).startswith(tuple(log_density.GROUPS))]
    lik = pm.compute_log_likelihood(idata, model=model, extend_inferencedata=False, progressbar=False)
    prior = pm.compute_log_prior(idata, model=model, extend_inferencedata=False, progressbar=False)
    assert len(lik.data_vars) >= 1 and len(prior.data_vars) == len(model.free_RVs)
    for ours, theirs in ((idata.log_likelihood, lik), (idata.log_prior, prior)):
        assert sorted(ours.data_vars) == sorted(theirs.data_vars)
        for name in theirs.data_vars:
            assert ours[name].dims == theirs[name].dims, name
            assert_allclose(ours[name].values, theirs[name].values, rtol=1e-9, atol=1e-12, err_msg=name)
    # the draws vary, so equal arrays are not two constants
    assert float(idata.log_prior[model.free_RVs[0].name].std()) > 0


def test_model_is_restored_when_the_block_raises():
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("y", mu, 1.0, observed=[0.1, 0.4])
    before = state(model)
    with pytest.raises(RuntimeError, match="inside"), log_density.as_deterministics(model):
        assert {"__loglik__y", "__logprior__mu"} <= set(model.named_vars)
        raise RuntimeError("inside")
    assert state(model) == before


def test_a_nutpie_fit_does_not_call_pymc_log_density_functions(monkeypatch):
    """The fit job's path: the groups come from the sampler's draws, so PyMC's (slow) functions are not needed."""
    with pm.Model() as model:
        mu = pm.Normal("mu", 0.0, 2.0)
        pm.Normal("y", mu, 1.0, observed=[0.3, -0.1, 0.8])

    def refuse(*args, **kwargs):
        raise AssertionError("PyMC's log density was computed again")

    monkeypatch.setattr(pm, "compute_log_likelihood", refuse)
    monkeypatch.setattr(pm, "compute_log_prior", refuse)
    idata = fit(model, SamplerSettings(chains=2, draws=50, tune=100, prior_draws=20), seed=1)
    mu = idata.posterior["mu"].values
    expected = -0.5 * ((np.array([0.3, -0.1, 0.8])[None, None, :] - mu[..., None]) ** 2) - 0.5 * np.log(2 * np.pi)
    assert_allclose(idata.log_likelihood["y"].values, expected, rtol=1e-12)
    assert_allclose(idata.log_prior["mu"].values, -0.5 * (mu / 2.0) ** 2 - np.log(2.0) - 0.5 * np.log(2 * np.pi))
