"""Tests for models.published: the Track A hierarchical model on the real published table.

The model is built once per module from the real data (read_published -> build_observations with the
table's n -> PublishedData) under the reference prior of config.yaml; its logp and dlogp are compiled
once. References: the joint log density written out with scipy.stats (normal / half-normal priors with
the log-transform Jacobian, Fisher-z likelihood of every row), finite differences, the prior's own
interval, and closed-form normal / half-normal log densities for changed prior hyperparameters. No MCMC.
"""

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import CONFIG, ROOT, scipy_log_normal_interval
from numpy.testing import assert_allclose
from pytensor.compile.sharedvalue import SharedVariable
from scipy import special, stats

from models.evidence import EvidenceSettings, build_observations
from models.priors import to_z_prior
from models.published import PHASE_ORDER, PublishedData, build_published_model, prior_data
from reanalysis.published_table import read_published

GROUPING = CONFIG["published"]["grouping"]
REFERENCE = CONFIG["priors"]["reference"]


def evidence_settings(cfg):
    p = cfg["published"]
    m = p["multiplicity"]
    return EvidenceSettings(
        alpha=p["alpha"],
        correction=m["correction"],
        family_size=m["family_size"],
        family_size_by_study=m["family_size_by_study"],
        omitted_rows=p["omitted_rows"],
        std_beta_extra_sd=p["std_beta_extra_sd"],
        widen_for_rounding=p["widen_for_rounding"],
        shared_sample_error_correlation=p["shared_sample_error_correlation"],
    )


@pytest.fixture(scope="module")
def clean():
    table, _ = read_published(ROOT / CONFIG["data"]["published"])
    return table


@pytest.fixture(scope="module")
def obs(clean):
    observations, _ = build_observations(clean, clean.set_index("row_id")["n"], evidence_settings(CONFIG))
    return observations


@pytest.fixture(scope="module")
def prior():
    return to_z_prior(REFERENCE, GROUPING)


@pytest.fixture(scope="module")
def data(obs):
    return PublishedData.from_observations(obs, GROUPING)


@pytest.fixture(scope="module")
def model(data, prior):
    return build_published_model(data, prior, "fisher_z")


@pytest.fixture(scope="module")
def logp_fn(model):
    return model.compile_logp()


@pytest.fixture(scope="module")
def dlogp_fn(model):
    return model.compile_dlogp()


@pytest.fixture(scope="module")
def random_point(model):
    """A point in the transformed (unconstrained) space away from the initial point."""
    rng = np.random.default_rng(11)
    return {k: v + rng.normal(0.0, 0.5, size=np.shape(v)) for k, v in model.initial_point().items()}


# ---------------------------------------------------------------- independent joint log density
log_interval = scipy_log_normal_interval


def scipy_joint_logp(point, obs, hyper):
    """log p(params, data) on the transformed space (log sigma), written out with scipy."""
    lp = stats.norm.logpdf(point["mu"], hyper["prior_mu_mean"], hyper["prior_mu_sd"])
    z = np.full(len(obs), point["mu"], dtype=float)
    for g in GROUPING:
        log_sigma = point[f"sigma_{g}_log__"]
        sigma = np.exp(log_sigma)
        lp += stats.halfnorm.logpdf(sigma, scale=hyper[f"prior_sigma_{g}"]) + log_sigma  # + log Jacobian
        a = np.asarray(point[f"a_{g}"])
        lp += stats.norm.logpdf(a).sum()
        levels = list(dict.fromkeys(obs[g]))
        if g == "alliance_phase":
            levels = [p for p in PHASE_ORDER if p in levels] + [p for p in levels if p not in PHASE_ORDER]
        z = z + sigma * a[[levels.index(v) for v in obs[g]]]
    log_sres = point["sigma_residual_log__"]
    lp += stats.halfnorm.logpdf(np.exp(log_sres), scale=hyper["prior_sigma_residual"]) + log_sres
    lp += stats.norm.logpdf(point["e_residual"]).sum()
    z = z + np.exp(log_sres) * np.asarray(point["e_residual"])
    for zi, (_, row) in zip(z, obs.iterrows(), strict=True):
        sd = np.sqrt(1.0 / (row["n_eff"] - 3.0) + row["extra_sd"] ** 2)
        if row["kind"] == "point":
            lp += stats.norm.logpdf(np.arctanh(row["r_obs"]), zi, sd) - np.log1p(-(row["r_obs"] ** 2))  # density of r
            continue
        parts = [log_interval(np.arctanh(row["r_lo1"]), np.arctanh(row["r_hi1"]), zi, sd)]
        if row["r_hi2"] > row["r_lo2"]:
            parts.append(log_interval(np.arctanh(row["r_lo2"]), np.arctanh(row["r_hi2"]), zi, sd))
        lp += special.logsumexp(parts)
    return float(lp)


# ---------------------------------------------------------------- structure
def test_variable_names(model):
    free = ["mu", *[x for g in GROUPING for x in (f"sigma_{g}", f"a_{g}")], "sigma_residual", "e_residual"]
    assert [v.name for v in model.free_RVs] == free
    det = [f"rho_{g}" for g in GROUPING] + ["rho_pooled", "rho_cell", "rho_row"]
    assert sorted(v.name for v in model.deterministics) == sorted(det)
    assert [v.name for v in model.observed_RVs] == ["obs"]


def test_dims_and_coords(model, obs):
    assert model.coords["row"] == tuple(obs["row_id"])
    assert model.coords["alliance_phase"] == ("preparation", "mid-treatment", "late-treatment", "post-dosing")
    assert model.coords["study"] == ("Zeifman2024", "Levin2024")  # order of first appearance
    assert model.coords["outcome_timepoint"] == ("post-treatment", "4 weeks", "3 months", "6 months", "12 months")
    assert model.coords["outcome"] == ("CAPS", "IES-R", "depression")
    dims = model.named_vars_to_dims
    for g in GROUPING:
        assert dims[f"a_{g}"] == (g,)
        assert dims[f"rho_{g}"] == (g,)
    for v in ["e_residual", "rho_cell", "rho_row", "obs"]:
        assert dims[v] == ("row",)
    assert "rho_pooled" not in dims and "mu" not in dims


def test_initial_point_shapes(model):
    ip = model.initial_point()
    expected = {"a_study": 2, "a_alliance_phase": 4, "a_outcome_timepoint": 5, "a_outcome": 3, "e_residual": 14}
    for name, size in expected.items():
        assert np.shape(ip[name]) == (size,)
    assert np.shape(ip["mu"]) == ()


def test_group_index_maps_rows_to_levels(data, obs):
    for g in GROUPING:
        levels = data.coords[g]
        assert [levels[j] for j in data.group_index[g]] == obs[g].tolist()
    assert data.arrays["is_point"].sum() == 7
    assert not data.arrays["has_second"].any()  # every interval row of the real table has a known sign


# ---------------------------------------------------------------- log density
def test_logp_and_gradient_finite_at_initial_point(model, logp_fn, dlogp_fn):
    ip = model.initial_point()
    lp, grad = logp_fn(ip), dlogp_fn(ip)
    assert np.isfinite(lp)
    assert grad.shape == (sum(np.size(v) for v in ip.values()),)
    assert np.all(np.isfinite(grad))


def test_logp_matches_scipy_joint_density(model, logp_fn, obs, prior, random_point):
    for point in (model.initial_point(), random_point):
        assert logp_fn(point) == pytest.approx(scipy_joint_logp(point, obs, prior_data(prior)), rel=1e-10)


def test_dlogp_matches_finite_differences(model, logp_fn, dlogp_fn, random_point):
    grad = dlogp_fn(random_point)
    fd, h = [], 1e-5
    for name, value in random_point.items():  # same order as value_vars / dlogp
        flat = np.atleast_1d(np.asarray(value, dtype=float))
        for j in range(flat.size):
            up, down = dict(random_point), dict(random_point)
            for pt_, sgn in ((up, 1), (down, -1)):
                v = flat.copy()
                v[j] += sgn * h
                pt_[name] = v.reshape(np.shape(value))
            fd.append((logp_fn(up) - logp_fn(down)) / (2 * h))
    assert_allclose(grad, fd, rtol=1e-5, atol=1e-6)


def test_deterministics_follow_tanh_of_z(model, random_point, obs):
    point = dict(random_point)
    outs = model.replace_rvs_by_values([model["rho_pooled"], model["rho_alliance_phase"]])
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    rho_pooled, rho_phase = fn(point)
    assert rho_pooled == pytest.approx(np.tanh(point["mu"]))
    sigma = np.exp(point["sigma_alliance_phase_log__"])
    assert_allclose(rho_phase, np.tanh(point["mu"] + sigma * point["a_alliance_phase"]), rtol=1e-12)


# ---------------------------------------------------------------- prior
def test_prior_data_containers(model, prior):
    expected = {"prior_mu_mean": 0.0, "prior_mu_sd": np.arctanh(0.8) / stats.norm.ppf(0.975)}
    expected |= {f"prior_sigma_{g}": REFERENCE["heterogeneity"][g] for g in [*GROUPING, "residual"]}
    assert set(prior_data(prior)) == set(expected)
    for name, value in expected.items():
        assert isinstance(model[name], SharedVariable)
        assert float(model[name].get_value()) == pytest.approx(value, abs=1e-14)


def test_prior_predictive_rho_pooled_reproduces_config_interval(model, prior):
    idata = pm.sample_prior_predictive(draws=2000, model=model, var_names=["rho_pooled"], random_seed=20241122)
    rho = idata.prior["rho_pooled"].values.ravel()
    assert rho.shape == (2000,)
    # MC sd of a 2.5% quantile of 2000 draws: sqrt(.025 .975 / 2000) / density ~ 0.034 on z, ~0.012 on rho
    q = np.quantile(rho, [0.025, 0.975])
    assert_allclose(q, [REFERENCE["rho"]["lower95"], REFERENCE["rho"]["upper95"]], atol=0.05)
    assert np.mean((rho > -0.8) & (rho < 0.8)) == pytest.approx(0.95, abs=4 * np.sqrt(0.95 * 0.05 / 2000))
    assert stats.kstest(np.arctanh(rho), stats.norm(prior.mu_mean, prior.mu_sd).cdf).pvalue > 1e-3


def test_set_data_changes_logp_as_closed_form_predicts(model, logp_fn, random_point, prior):
    point = random_point
    mu, sigma_study = float(point["mu"]), float(np.exp(point["sigma_study_log__"]))
    base = logp_fn(point)
    original = prior_data(prior)
    try:
        with model:
            pm.set_data({"prior_mu_mean": -0.4, "prior_mu_sd": 0.25})
        m0, s0 = original["prior_mu_mean"], original["prior_mu_sd"]
        expected = stats.norm.logpdf(mu, -0.4, 0.25) - stats.norm.logpdf(mu, m0, s0)
        assert logp_fn(point) - base == pytest.approx(expected, rel=1e-10)
        with model:
            pm.set_data({"prior_sigma_study": 0.5})
        expected += stats.halfnorm.logpdf(sigma_study, scale=0.5) - stats.halfnorm.logpdf(sigma_study, scale=0.2)
        assert logp_fn(point) - base == pytest.approx(expected, rel=1e-10)
    finally:
        with model:
            pm.set_data({k: original[k] for k in ["prior_mu_mean", "prior_mu_sd", "prior_sigma_study"]})
    assert logp_fn(point) == pytest.approx(base, rel=1e-14)


def test_another_prior_set_maps_to_the_same_graph(model, logp_fn, random_point, obs, prior):
    other = prior_data(to_z_prior(CONFIG["priors"]["psychotherapy"], GROUPING))
    try:
        with model:
            pm.set_data(other)
        assert logp_fn(random_point) == pytest.approx(scipy_joint_logp(random_point, obs, other), rel=1e-10)
    finally:
        with model:
            pm.set_data(prior_data(prior))


# ---------------------------------------------------------------- new data, no code change
def test_third_study_with_new_phase_appears_in_coords(clean, prior):
    new = clean[clean["study"] == "Levin2024"].head(2).copy()
    new["row_id"] = ["N01", "N02"]
    new["study"] = "Newcomer2025"
    new["alliance_phase"] = "integration"
    table = pd.concat([clean, new], ignore_index=True)
    observations, _ = build_observations(table, table.set_index("row_id")["n"], EvidenceSettings())
    data = PublishedData.from_observations(observations, GROUPING)
    assert data.coords["study"] == ["Zeifman2024", "Levin2024", "Newcomer2025"]
    assert data.coords["alliance_phase"] == [*PHASE_ORDER, "integration"]  # known phases first, in order
    assert data.coords["row"][-2:] == ["N01", "N02"]
    assert list(data.group_index["study"][-2:]) == [2, 2]
    assert list(data.group_index["alliance_phase"][-2:]) == [4, 4]
    model = build_published_model(data, prior)
    assert model.coords["study"] == ("Zeifman2024", "Levin2024", "Newcomer2025")
    assert model.coords["alliance_phase"][-1] == "integration"
    assert model.dim_lengths["alliance_phase"].eval() == 5
    assert model.dim_lengths["row"].eval() == 16


def test_unknown_likelihood_fails_when_the_logp_is_built(data, prior):
    with pytest.raises(ValueError, match="likelihood='bogus'"):
        build_published_model(data, prior, "bogus")
