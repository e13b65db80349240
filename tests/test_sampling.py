"""models.sampling: the retry of draws that fail the convergence gate, on a conjugate normal model whose
posterior is known (mu | y ~ N(m, s^2) in closed form), with the real gate as the judge."""

import json

import numpy as np
import pymc as pm
import pytest

from models.sampling import SamplerSettings, fit, sample_posterior
from reanalysis.diagnostics import Gate, RetryTest, measure

Y = np.array([0.3, -0.1, 0.8, 0.5, 0.2, 1.1, -0.4, 0.6])
PRIOR_SD = 2.0
# conjugate posterior of mu with unit-variance observations
POST_VAR = 1.0 / (1.0 / PRIOR_SD**2 + len(Y))
POST_MEAN = POST_VAR * Y.sum()


@pytest.fixture(scope="module")
def model():
    with pm.Model() as m:
        mu = pm.Normal("mu", 0.0, PRIOR_SD)
        pm.Normal("y", mu, 1.0, observed=Y)
    return m


def settings(**kw):
    base = dict(backend="nutpie", chains=2, draws=30, tune=200, target_accept=0.8, prior_draws=50, cores=1)
    return SamplerSettings(**{**base, **kw})


class Scripted:
    """A verdict that returns the given failures in turn and counts its calls."""

    def __init__(self, *answers):
        self.answers, self.calls = list(answers), 0

    def __call__(self, idata):
        self.calls += 1
        return self.answers.pop(0)


def attempts(idata):
    return json.loads(idata.attrs["sampler_attempts"])


def test_first_attempt_that_passes_is_kept(model):
    judge = Scripted([])
    idata = sample_posterior(model, settings(retry={"draws": 300}), seed=1, verdict=judge)
    assert judge.calls == 1
    assert idata.posterior.sizes["draw"] == 30
    assert [a["draws"] for a in attempts(idata)] == [30]


def test_failing_first_attempt_is_replaced_by_the_retry_settings(model):
    judge = Scripted(["R-hat 1.2 > 1.01 for mu"], [])
    s = settings(retry={"draws": 300, "tune": 300, "target_accept": 0.95})
    idata = sample_posterior(model, s, seed=1, verdict=judge)
    assert judge.calls == 2
    assert idata.posterior.sizes["draw"] == 300
    record = attempts(idata)
    assert [(a["draws"], a["tune"], a["target_accept"]) for a in record] == [(30, 200, 0.8), (300, 300, 0.95)]
    assert record[0]["failures"] == ["R-hat 1.2 > 1.01 for mu"] and record[1]["failures"] == []
    assert "log_likelihood" in idata.groups()  # the kept draws get their log densities, as without a retry


def test_retry_that_also_fails_is_kept_for_the_gate_to_judge(model):
    judge = Scripted(["first"], ["second"])
    idata = sample_posterior(model, settings(retry={"draws": 60}), seed=1, verdict=judge)
    assert idata.posterior.sizes["draw"] == 60
    assert [a["failures"] for a in attempts(idata)] == [["first"], ["second"]]


def test_without_retry_settings_a_failing_fit_is_sampled_once(model):
    judge = Scripted(["fails"])
    idata = sample_posterior(model, settings(), seed=1, verdict=judge)
    assert judge.calls == 1 and len(attempts(idata)) == 1


def test_the_real_gate_sends_too_few_draws_to_the_retry(model):
    """ESS >= 400 cannot hold for 2 x 30 draws; 2 x 1000 draws of this easy posterior pass, and the kept
    draws recover the closed-form posterior."""
    gate = Gate(ess_bulk_min=400, ess_tail_min=400)
    idata = fit(model, settings(retry={"draws": 1000}), seed=2, verdict=RetryTest(gate))
    record = attempts(idata)
    assert len(record) == 2
    assert any("ess_bulk" in f for f in record[0]["failures"])
    assert record[1]["failures"] == []
    mu = idata.posterior["mu"].values.ravel()
    assert abs(mu.mean() - POST_MEAN) < 4 * np.sqrt(POST_VAR / 400)  # within 4 MCSE at the gate's ESS floor
    assert mu.std() == pytest.approx(np.sqrt(POST_VAR), rel=0.1)
    assert len(measure(idata)["attempts"]) == 2  # what the gate job sees


def test_pymc_backend_retries_too(model):
    judge = Scripted(["fails"], [])
    idata = sample_posterior(model, settings(backend="pymc", retry={"draws": 40}), seed=3, verdict=judge)
    assert idata.posterior.sizes["draw"] == 40 and len(attempts(idata)) == 2


def test_settings_from_config_carry_the_retry():
    s = SamplerSettings.from_config({"draws": 2000, "retry": {"draws": 4000, "target_accept": 0.995}})
    first, second = s.attempts()
    assert (first.draws, first.target_accept) == (2000, 0.99)
    assert (second.draws, second.target_accept, second.tune, second.retry) == (4000, 0.995, first.tune, None)
    assert SamplerSettings.from_config({"retry": None}).attempts() == [SamplerSettings()]


def test_two_fits_in_one_process(model):
    """PyMC's prior predictive adds keys to the compile options it is given; the second fit's log-likelihood
    must not see them (it failed with 'multiple values for keyword argument allow_input_downcast')."""
    for seed in (4, 5):
        idata = fit(model, settings(draws=50), seed=seed)
        assert {"log_likelihood", "log_prior", "prior"} <= set(idata.groups())
