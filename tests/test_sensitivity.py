"""Power-scaling sensitivity: az.psens against the closed-form answer of a conjugate normal model, the log prior
against scipy, priorsense's labels on small PyMC fits (a tight prior far from the data is a prior-data conflict,
a weak prior is not), which priors a prior set controls, and the real Track A model under the reference prior."""

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import CONFIG, ROOT
from scipy import integrate, stats

from models.sensitivity import DIAGNOSES, add_log_prior, diagnose, prior_set_variables, sensitivity_table

REFERENCE = CONFIG["priors"]["reference"]
N_OBS, SIGMA = 20, 1.0
Y = np.random.default_rng(0).normal(0.0, SIGMA, N_OBS)


# --- closed form: normal mean, known sigma, prior N(m0, s0) -----------------------------------------------------


def _posterior(m0, s0, a_prior=1.0, a_lik=1.0):
    """Mean and sd of the posterior with the prior raised to a_prior and the likelihood to a_lik (still normal)."""
    precision = a_prior / s0**2 + a_lik * N_OBS / SIGMA**2
    return (a_prior * m0 / s0**2 + a_lik * Y.sum() / SIGMA**2) / precision, precision**-0.5


def _cjs(p_cdf, q_cdf, lo, hi):
    """Cumulative Jensen-Shannon distance of two CDFs on [lo, hi], normalised as priorsense/ArviZ do."""
    x = np.linspace(lo, hi, 20001)
    p, q = p_cdf(x), q_cdf(x)
    m = 0.5 * (p + q)
    ip, iq = integrate.trapezoid(p, x), integrate.trapezoid(q, x)
    pq = integrate.trapezoid(p * np.log2(p / m), x) + (iq - ip) / (2 * np.log(2))
    qp = integrate.trapezoid(q * np.log2(q / m), x) + (ip - iq) / (2 * np.log(2))
    return np.sqrt((max(pq, 0) + max(qp, 0)) / (ip + iq))


def closed_form_sensitivity(m0, s0, component, lo, hi, delta=0.01):
    """d CJS / d log2(alpha) by the same finite difference, with exact normal CDFs instead of weighted draws."""
    m, s = _posterior(m0, s0)
    total = 0.0
    for alpha in (1 / (1 + delta), 1 + delta):
        ma, sa = _posterior(m0, s0, **({"a_prior": alpha} if component == "prior" else {"a_lik": alpha}))
        upper = _cjs(stats.norm(m, s).cdf, stats.norm(ma, sa).cdf, lo, hi)
        lower = _cjs(stats.norm(-m, s).cdf, stats.norm(-ma, sa).cdf, -hi, -lo)
        total += max(upper, lower)  # both tails, as priorsense
    return total / (2 * np.log2(1 + delta))


def exact_idata(m0, s0, seed=1):
    """Exact posterior draws of the normal mean with its pointwise log-likelihood and log prior."""
    m, s = _posterior(m0, s0)
    draws = np.random.default_rng(seed).normal(m, s, (4, 5000))
    idata = az.from_dict(posterior={"mu": draws}, log_likelihood={"y": stats.norm.logpdf(Y, draws[..., None], SIGMA)})
    idata.add_groups({"log_prior": {"mu": stats.norm.logpdf(draws, m0, s0)}})
    return idata, draws


@pytest.mark.parametrize(
    "m0, s0, expected",
    [
        (3.0, 0.2, "prior-data conflict"),  # tight prior 13 likelihood-SDs from the data
        (0.0, 10.0, "-"),  # weak prior: only the likelihood matters
        (0.0, 0.02, "strong prior / weak likelihood"),  # prior 11x tighter than the likelihood
    ],
)
def test_psens_matches_closed_form_and_labels(m0, s0, expected):
    idata, draws = exact_idata(m0, s0)
    table = sensitivity_table(idata, ["mu"]).iloc[0]
    for component in ("prior", "likelihood"):
        exact = closed_form_sensitivity(m0, s0, component, draws.min(), draws.max())
        assert table[f"{component}_sensitivity"] == pytest.approx(exact, rel=0.08, abs=0.003)
    assert table["diagnosis"] == expected


def test_diagnose_follows_priorsense_and_threshold_is_a_parameter():
    assert diagnose(0.06, 0.06) == DIAGNOSES[0] == "prior-data conflict"
    assert diagnose(0.06, 0.01) == "strong prior / weak likelihood"
    assert diagnose(0.01, 0.5) == diagnose(0.01, 0.01) == "-"
    assert diagnose(0.06, 0.06, threshold=0.1) == "-"


# --- PyMC fits -----------------------------------------------------------------------------------------------------


def fit_normal(m0, s0, seed=2):
    with pm.Model() as model:
        mu = pm.Normal("mu", m0, s0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("y", mu, sigma, observed=Y)
        idata = pm.sample(
            draws=1000, tune=500, chains=2, cores=1, random_seed=seed, progressbar=False,
            compute_convergence_checks=False, idata_kwargs={"log_likelihood": True},
        )  # fmt: skip
    return add_log_prior(idata, model)


@pytest.fixture(scope="module")
def conflict_fit():
    return fit_normal(3.0, 0.2)


@pytest.fixture(scope="module")
def weak_fit():
    return fit_normal(0.0, 5.0)


def test_log_prior_is_the_constrained_density_without_jacobian(conflict_fit):
    post, lp = conflict_fit.posterior, conflict_fit.log_prior
    np.testing.assert_allclose(lp["mu"], stats.norm.logpdf(post["mu"], 3.0, 0.2), rtol=1e-6)
    np.testing.assert_allclose(lp["sigma"], stats.halfnorm.logpdf(post["sigma"], scale=2.0), rtol=1e-6)
    assert set(lp.data_vars) == {"mu", "sigma"}


def test_tight_prior_far_from_data_is_a_prior_data_conflict(conflict_fit):
    table = sensitivity_table(conflict_fit, ["mu", "sigma"]).set_index("parameter")
    assert table.loc["mu", "diagnosis"] == "prior-data conflict"
    assert table.loc["mu", "prior_sensitivity"] > 0.15 and table.loc["mu", "likelihood_sensitivity"] > 0.15


def test_weakly_informative_prior_gives_no_conflict(weak_fit):
    table = sensitivity_table(weak_fit, ["mu", "sigma"]).set_index("parameter")
    assert (table["diagnosis"] == "-").all()
    assert table.loc["mu", "prior_sensitivity"] < 0.05 < table.loc["mu", "likelihood_sensitivity"]


def test_selecting_priors_to_power_scale(conflict_fit):
    only_sigma = sensitivity_table(conflict_fit, ["mu"], prior_var_names=["sigma"]).iloc[0]
    both = sensitivity_table(conflict_fit, ["mu"]).iloc[0]
    assert only_sigma["prior_sensitivity"] < 0.05 < both["prior_sensitivity"]  # mu's own prior drives its shift
    with pytest.raises(ValueError, match="non-empty subset of the log_prior"):
        sensitivity_table(conflict_fit, ["mu"], prior_var_names=[])  # e.g. prior_set_variables found none
    with pytest.raises(ValueError, match="add_log_prior"):
        sensitivity_table(az.from_dict(posterior={"mu": np.zeros((1, 10))}, log_likelihood={"y": np.zeros((1, 10))}),
                          ["mu"])  # fmt: skip


# --- the project's models -------------------------------------------------------------------------------------------


def _published_observations() -> pd.DataFrame:
    from models.evidence import EvidenceSettings, build_observations
    from reanalysis.published_table import read_published

    clean, _ = read_published(ROOT / CONFIG["data"]["published"])
    observations, _ = build_observations(clean, clean.set_index("row_id")["n"], EvidenceSettings())
    return observations


def _track_a_model(observations: pd.DataFrame) -> pm.Model:
    """The Track A model under the reference prior, built as workflow/scripts/fit.py builds it."""
    from models.priors import to_z_prior
    from models.published import PublishedData, build_published_model

    grouping = list(CONFIG["published"]["grouping"])
    data = PublishedData.from_observations(observations, grouping)
    prior = to_z_prior(REFERENCE, grouping)
    return build_published_model(data, prior, CONFIG["published"]["likelihood"])


def test_prior_set_variables_are_the_priors_config_controls():
    from models.participant import CohortData, build_outcome_model, simulate_from_model, to_participant_prior

    track_a = prior_set_variables(_track_a_model(_published_observations()))
    grouping = CONFIG["published"]["grouping"]
    assert sorted(track_a) == sorted(["mu", *(f"sigma_{g}" for g in [*grouping, "residual"])])

    spec = CONFIG["cohorts"]["mdd"]
    outcome = next(iter(spec["outcomes"]))
    data = CohortData.from_long(simulate_from_model(spec, 24, {"n_missing_alliance": 3}, seed=1), spec, outcome)
    model = build_outcome_model(data, to_participant_prior(REFERENCE), "student_t")
    # not the non-centred offsets (v_z, delta, u_z) nor the imputed values (x_missing)
    expected = ["theta_x", "sigma_v", "sigma_x", "alpha", "beta", "gamma_mean", "tau", "sigma_u", "sigma", "nu"]
    assert sorted(prior_set_variables(model)) == sorted(expected)


def _stored_reference_fit():
    """The pipeline's reference fit and its observations path, when results/ has both and they match."""
    from reanalysis.provenance import sha256

    obs_path = ROOT / "results" / "data" / "published" / "observations.reported.csv"
    fit_path = ROOT / "results" / "fits" / "published" / "reference.nc"
    if not (obs_path.exists() and fit_path.exists()):
        pytest.skip("no pipeline output in results/ (run the pipeline first)")
    idata = az.from_netcdf(fit_path)
    recorded = idata.attrs.get("data_sha256", idata.attrs.get("observations_sha256"))
    if recorded != sha256(obs_path):
        pytest.skip("results/fits/published/reference.nc was fitted to other observations than results/data")
    return idata, obs_path


def test_track_a_reference_prior_has_no_prior_data_conflict():
    """The stored reference fit (16000 draws) and the model rebuilt as workflow/scripts/fit.py builds it."""
    from reanalysis import builders

    idata, obs_path = _stored_reference_fit()
    published = CONFIG["published"]
    try:
        model = builders.published(str(obs_path), published["grouping"], REFERENCE, published["likelihood"]).model
        add_log_prior(idata, model)  # replaces a stored log_prior group
    except (KeyError, TypeError, ValueError) as err:  # the model changed since the fit was stored
        pytest.skip(f"stored fit does not match the current model: {err}")
    table = sensitivity_table(idata, ["mu", "rho_pooled"], prior_var_names=prior_set_variables(model))
    assert (table["diagnosis"] != "prior-data conflict").all(), table.to_string()
    # the censored likelihood acts almost as an indicator of the allowed range of r, which power-scaling cannot
    # see: likelihood sensitivity is near 0 although the data move mu from N(0, 0.56) to about N(-0.6, 0.17)
    assert (table["likelihood_sensitivity"] < 0.05).all()


@pytest.mark.slow
def test_track_a_reference_prior_has_no_prior_data_conflict_fresh_fit():
    """The same from a fresh (shorter) nutpie fit, for a checkout without results/."""
    import nutpie

    model = _track_a_model(_published_observations())
    compiled = nutpie.compile_pymc_model(model)
    idata = nutpie.sample(compiled, draws=2000, tune=1000, chains=2, seed=3, target_accept=0.99, progress_bar=False)
    pm.compute_log_likelihood(idata, model=model, progressbar=False)
    add_log_prior(idata, model)
    table = sensitivity_table(idata, ["mu", "rho_pooled"], prior_var_names=prior_set_variables(model))
    assert (table["diagnosis"] != "prior-data conflict").all(), table.to_string()


def test_add_log_prior_replaces_an_existing_group(conflict_fit):
    conflict_fit.log_prior["mu"] = conflict_fit.log_prior["mu"] * 0 + 123.0
    with pm.Model() as model:
        pm.Normal("mu", 3.0, 0.2)
        pm.HalfNormal("sigma", 2.0)
    add_log_prior(conflict_fit, model)
    np.testing.assert_allclose(conflict_fit.log_prior["mu"], stats.norm.logpdf(conflict_fit.posterior["mu"], 3.0, 0.2))
