"""Tests for models.participant: cohort arrays, priors, the outcome and alliance models, the simulator. No MCMC.

Cohorts are simulated with models.participant.simulate_from_model from the cohort specs in config.yaml
(PTSD: 3 alliance timepoints x 1 follow-up; depression: 2 x 4), with missing cells set by hand. References:
the joint log density written out with scipy.stats (normal / half-normal densities with the log-transform
Jacobian), closed-form normal / half-normal log densities for changed prior hyperparameters, ordinary least
squares on a large simulated cohort for the simulator.
"""

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from conftest import COHORT_SPECS, CONFIG
from numpy.testing import assert_allclose
from scipy import stats

from models.participant import (
    CohortData,
    ParticipantPrior,
    alliance_data_values,
    build_alliance_model,
    build_outcome_model,
    outcome_data_values,
    participant_prior_data,
    simulate_from_model,
    simulation_truth,
    std_slope_from_raw,
    to_participant_prior,
)

SPECS = COHORT_SPECS
PTSD, MDD = SPECS["ptsd"], SPECS["mdd"]
PRIOR = to_participant_prior(CONFIG["priors"]["reference"])
# three missing alliance cells, one missing baseline, S004 without any follow-up, one more missing follow-up
MDD_MISSING = [
    ("S002", "final_preparation", "alliance_total"),
    ("S005", "post_1_week", "alliance_total"),
    ("S011", "post_1_week", "alliance_total"),
    ("S007", "baseline", "GRID-HAMD"),
    *[("S004", t, "GRID-HAMD") for t in MDD["followups"]],
    ("S009", "month_6", "GRID-HAMD"),
]


def set_missing(df, cells):
    df = df.copy()
    for pid, tp, measure in cells:
        hit = (df["participant_id"] == pid) & (df["timepoint"] == tp) & (df["measure"] == measure)
        assert hit.sum() == 1
        df.loc[hit, "value"] = np.nan
    return df


@pytest.fixture(scope="module")
def mdd_df():
    return set_missing(simulate_from_model(MDD, 24, {"gamma_mean": -0.3}, seed=11), MDD_MISSING)


@pytest.fixture(scope="module")
def mdd(mdd_df):
    return CohortData.from_long(mdd_df, MDD, "GRID-HAMD")


@pytest.fixture(scope="module")
def ptsd():
    return CohortData.from_long(simulate_from_model(PTSD, 22, {"gamma_mean": -0.3}, seed=12), PTSD, "CAPS-5")


@pytest.fixture(scope="module")
def mdd_model(mdd):
    return build_outcome_model(mdd, PRIOR)


@pytest.fixture(scope="module")
def ptsd_model(ptsd):
    return build_outcome_model(ptsd, PRIOR)


def random_point(model, seed):
    """The initial point moved by standard-normal noise (transformed space), so no value sits at a default."""
    rng = np.random.default_rng(seed)
    return {k: v + rng.normal(size=np.shape(v)) for k, v in model.initial_point().items()}


# --- CohortData ----------------------------------------------------------------------------------------------


def test_cohort_arrays_follow_the_long_table(mdd_df, mdd):
    ids = sorted(mdd_df["participant_id"].unique())
    assert mdd.participants == tuple(ids)
    assert mdd.coords == {
        "participant": ids,
        "alliance_time": MDD["alliance_timepoints"],
        "followup": MDD["followups"],
    }
    assert mdd.alliance.shape == (24, 2) and mdd.baseline.shape == (24,) and mdd.followup.shape == (24, 4)
    look = mdd_df.set_index(["participant_id", "timepoint", "measure"])["value"]
    assert mdd.alliance[ids.index("S003"), 1] == look[("S003", "post_1_week", "alliance_total")]
    assert mdd.followup[ids.index("S010"), 2] == look[("S010", "month_6", "GRID-HAMD")]
    assert mdd.baseline[ids.index("S010")] == look[("S010", "baseline", "GRID-HAMD")]
    assert np.isnan(mdd.alliance).sum() == 3 and np.isnan(mdd.baseline).sum() == 1
    assert np.isnan(mdd.followup).sum() == 5 and np.isnan(mdd.followup[ids.index("S004")]).all()
    assert mdd.mcid == MDD["outcomes"]["GRID-HAMD"]["mcid"]


def test_standardisation_constants_use_observed_values(mdd):
    for a in range(2):
        obs = mdd.alliance[:, a][np.isfinite(mdd.alliance[:, a])]
        assert mdd.alliance_mean[a] == pytest.approx(obs.mean())
        assert mdd.alliance_sd[a] == pytest.approx(obs.std(ddof=1))
    y = mdd.followup[np.isfinite(mdd.followup)]
    assert (mdd.outcome_center, mdd.outcome_scale) == pytest.approx((y.mean(), y.std(ddof=1)))
    b = mdd.baseline[np.isfinite(mdd.baseline)]
    assert (mdd.baseline_mean, mdd.baseline_sd) == pytest.approx((b.mean(), b.std(ddof=1)))
    assert np.nanmean(mdd.alliance_std, axis=0) == pytest.approx([0, 0], abs=1e-12)
    assert np.nanstd(mdd.followup_std, ddof=1) == pytest.approx(1.0)


def test_participant_ids_are_text_and_sorted():
    df = simulate_from_model(PTSD, 3, {}, seed=0)
    df["participant_id"] = df["participant_id"].map({"S001": "10", "S002": "007", "S003": "2"})
    data = CohortData.from_long(df.iloc[::-1], PTSD, "IES-R")
    assert data.participants == ("007", "10", "2")


def test_from_long_rejects_bad_input(mdd_df):
    with pytest.raises(ValueError, match="outcome='HAMD'"):
        CohortData.from_long(mdd_df, MDD, "HAMD")
    with pytest.raises(ValueError, match="duplicated rows"):
        CohortData.from_long(pd.concat([mdd_df, mdd_df.iloc[:1]]), MDD, "GRID-HAMD")
    with pytest.raises(ValueError, match="no column"):
        CohortData.from_long(mdd_df.drop(columns="measure"), MDD, "GRID-HAMD")
    flat = mdd_df.copy()
    flat.loc[flat["timepoint"] == "post_1_week", "value"] = 5.0
    with pytest.raises(ValueError, match="alliance at 'post_1_week': all observed values are equal"):
        CohortData.from_long(flat, MDD, "GRID-HAMD")


# --- priors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIG["priors"]))
def test_prior_sets_become_slope_priors(name):
    ps = CONFIG["priors"][name]
    prior = to_participant_prior(ps)
    q = stats.norm.ppf([0.025, 0.975], prior.gamma_mean, prior.gamma_sd)
    assert_allclose(q, [ps["rho"]["lower95"], ps["rho"]["upper95"]], atol=1e-12)  # raw scale, not atanh
    assert prior.tau == ps["heterogeneity"]["alliance_phase"]
    assert (prior.alpha_sd, prior.beta_sd, prior.sigma, prior.sigma_u) == (1.0, 1.0, 1.0, 0.5)
    assert (prior.nu_alpha, prior.nu_beta) == (2.0, 0.1)


def test_prior_without_alliance_phase_scale_uses_default():
    prior = to_participant_prior({"rho": {"lower95": -0.5, "upper95": 0.1}, "heterogeneity": {"study": 0.2}})
    assert prior.tau == 0.15
    assert prior.gamma_mean == pytest.approx(-0.2)
    assert prior.gamma_sd == pytest.approx(0.6 / 3.919927969, rel=1e-9)
    with pytest.raises(ValueError, match="lower95"):
        to_participant_prior({"rho": {"lower95": 0.2, "upper95": -0.1}, "heterogeneity": {}})


# --- outcome model: structure ---------------------------------------------------------------------------------


def test_outcome_model_variables_and_dims(mdd, mdd_model):
    m = mdd_model
    free = {v.name for v in m.free_RVs}
    assert free == {
        "theta_x", "sigma_v", "sigma_x", "v_z", "x_missing", "b_missing",
        "alpha", "beta", "gamma_mean", "tau", "delta", "sigma_u", "u_z", "sigma",
    }  # fmt: skip
    assert {v.name for v in m.observed_RVs} == {"x_observed", "y"}
    assert {v.name for v in m.deterministics} == {
        "slope_std", "slope_points", "slope_mcid", "slope_mean_points", "slope_mean_mcid",
    }  # fmt: skip
    dims = m.named_vars_to_dims
    for name in ["slope_std", "slope_points", "slope_mcid", "delta"]:
        assert dims[name] == ("alliance_time", "followup")
    assert dims["y"] == ("y_obs",) and dims["x_missing"] == ("alliance_missing",)
    assert dims["b_missing"] == ("baseline_missing",) and dims["u_z"] == ("participant",)
    assert dims["alpha"] == dims["beta"] == ("followup",) and dims["theta_x"] == ("alliance_time",)
    assert m.coords["alliance_time"] == tuple(MDD["alliance_timepoints"])
    assert m.coords["followup"] == tuple(MDD["followups"])
    assert m.coords["participant"] == mdd.participants


def test_missing_cells_become_parameters_of_the_right_size(mdd_model):
    m = mdd_model
    assert m.coords["alliance_missing"] == ("S002:final_preparation", "S005:post_1_week", "S011:post_1_week")
    assert m.coords["baseline_missing"] == ("S007",)
    assert len(m.coords["alliance_obs"]) == 2 * 24 - 3
    assert len(m.coords["y_obs"]) == 4 * 24 - 5
    assert not any(label.startswith("S004:") for label in m.coords["y_obs"])  # no follow-up at all
    assert "S009:month_6" not in m.coords["y_obs"]
    ip = m.initial_point()
    assert ip["x_missing"].shape == (3,) and ip["b_missing"].shape == (1,)


def test_complete_cohort_has_no_missing_variables(ptsd_model):
    m = ptsd_model
    names = set(m.named_vars)
    assert not names & {"x_missing", "b_missing"}
    assert "alliance_missing" not in m.coords and "baseline_missing" not in m.coords
    assert len(m.coords["y_obs"]) == 22 and len(m.coords["alliance_obs"]) == 66


def test_one_followup_has_no_participant_effect(ptsd_model, mdd_model):
    assert not {"sigma_u", "u_z", "prior_sigma_u"} & set(ptsd_model.named_vars)
    assert {"sigma_u", "u_z", "prior_sigma_u"} <= set(mdd_model.named_vars)
    assert ptsd_model.named_vars_to_dims["slope_std"] == ("alliance_time", "followup")
    assert ptsd_model.coords["followup"] == ("post",)


def test_student_t_variant_has_nu(ptsd):
    m = build_outcome_model(ptsd, PRIOR, residual="student_t")
    assert "nu" in {v.name for v in m.free_RVs}
    assert {"prior_nu_alpha", "prior_nu_beta"} <= set(m.named_vars)
    assert "nu" not in build_outcome_model(ptsd, PRIOR).named_vars
    with pytest.raises(ValueError, match="residual='cauchy'"):
        build_outcome_model(ptsd, PRIOR, residual="cauchy")


@pytest.mark.parametrize("residual", ["normal", "student_t"])
@pytest.mark.parametrize("cohort", ["mdd", "ptsd"])
def test_logp_and_gradient_are_finite_at_the_initial_point(cohort, residual, request):
    m = build_outcome_model(request.getfixturevalue(cohort), PRIOR, residual=residual)
    ip = m.initial_point()
    assert np.isfinite(m.compile_logp()(ip))
    grad = m.compile_dlogp()(ip)
    assert grad.shape == (sum(np.size(v) for v in ip.values()),) and np.isfinite(grad).all()


def test_followup_without_any_observation_still_builds(mdd_df):
    df = mdd_df.copy()
    df.loc[df["timepoint"] == "month_12", "value"] = np.nan
    data = CohortData.from_long(df, MDD, "GRID-HAMD")
    m = build_outcome_model(data, PRIOR)
    assert not any(label.endswith(":month_12") for label in m.coords["y_obs"])
    assert m.coords["followup"][-1] == "month_12"  # its slopes stay in the model, informed by the prior only
    assert np.isfinite(m.compile_logp()(m.initial_point()))


# --- outcome model: densities -------------------------------------------------------------------------------


def hand_logp(data, prior, pt_):
    """Joint log density of the normal outcome model written out with scipy.stats (log-transformed scales)."""
    norm, half = stats.norm.logpdf, stats.halfnorm.logpdf

    def scale(name, s):  # half-normal density of exp(value) plus the log-transform Jacobian
        z = pt_[f"{name}_log__"]
        return half(np.exp(z), scale=s) + z, np.exp(z)

    total = 0.0
    lp, sigma_v = scale("sigma_v", prior.sigma_v)
    total += lp
    lp, sigma_x = scale("sigma_x", prior.sigma_x)
    total += lp
    lp, tau = scale("tau", prior.tau)
    total += lp
    lp, sigma_u = scale("sigma_u", prior.sigma_u)
    total += lp
    lp, sigma = scale("sigma", prior.sigma)
    total += lp
    theta, v = pt_["theta_x"], sigma_v * pt_["v_z"]
    total += norm(theta, 0, prior.theta_sd).sum() + norm(pt_["v_z"]).sum() + norm(pt_["u_z"]).sum()
    x = data.alliance_std.copy()
    x_mean = theta[None, :] + v[:, None]
    obs = np.isfinite(x)
    total += norm(x[obs], x_mean[obs], sigma_x).sum()
    x[~obs] = pt_["x_missing"]  # row-major order, as the model's alliance_missing coords
    total += norm(pt_["x_missing"], x_mean[~obs], sigma_x).sum()
    b = data.baseline_std.copy()
    b[np.isnan(b)] = pt_["b_missing"]
    total += norm(pt_["b_missing"]).sum()
    alpha, beta = pt_["alpha"], pt_["beta"]
    total += norm(alpha, 0, prior.alpha_sd).sum() + norm(beta, 0, prior.beta_sd).sum()
    total += norm(pt_["gamma_mean"], prior.gamma_mean, prior.gamma_sd) + norm(pt_["delta"]).sum()
    gamma = pt_["gamma_mean"] + tau * pt_["delta"]
    mu = alpha[None, :] + b[:, None] * beta[None, :] + x @ gamma + sigma_u * pt_["u_z"][:, None]
    y = data.followup_std
    yo = np.isfinite(y)
    return total + norm(y[yo], mu[yo], sigma).sum()


def test_logp_equals_the_density_written_out(mdd, mdd_model):
    logp = mdd_model.compile_logp()
    for seed in range(3):
        point = random_point(mdd_model, seed)
        assert logp(point) == pytest.approx(hand_logp(mdd, PRIOR, point), rel=1e-10)


def test_gradient_matches_finite_differences(ptsd_model):
    m = ptsd_model
    point = random_point(m, 5)
    logp, dlogp = m.compile_logp(), m.compile_dlogp()
    grad = dlogp(point)
    names = [v.name for v in m.value_vars]
    flat = np.concatenate([np.ravel(point[k]) for k in names])
    sizes = [np.size(point[k]) for k in names]

    def unflat(vec):
        out, i = {}, 0
        for k, s in zip(names, sizes, strict=True):
            out[k] = vec[i : i + s].reshape(np.shape(point[k]))
            i += s
        return out

    h = 1e-6
    fd = np.array([(logp(unflat(flat + h * e)) - logp(unflat(flat - h * e))) / (2 * h) for e in np.eye(flat.size)])
    assert_allclose(grad, fd, rtol=1e-5, atol=1e-5)


def test_prior_data_names(mdd_model, ptsd_model):
    prior_names = {n for n in mdd_model.named_vars if n.startswith("prior_")}
    assert prior_names == set(participant_prior_data(PRIOR, n_followups=4))
    assert prior_names == {
        "prior_gamma_mean", "prior_gamma_sd", "prior_tau", "prior_alpha_sd", "prior_beta_sd", "prior_sigma",
        "prior_sigma_u", "prior_theta_sd", "prior_sigma_v", "prior_sigma_x",
    }  # fmt: skip
    assert {n for n in ptsd_model.named_vars if n.startswith("prior_")} == prior_names - {"prior_sigma_u"}
    for name, value in participant_prior_data(PRIOR, n_followups=4).items():
        assert float(mdd_model[name].get_value()) == value


def test_set_data_changes_logp_by_the_closed_form_amount(mdd):
    m = build_outcome_model(mdd, PRIOR)  # own model: pm.set_data mutates it
    logp = m.compile_logp()
    point = random_point(m, 7)
    g, tau = float(point["gamma_mean"]), float(np.exp(point["tau_log__"]))
    before = logp(point)
    sceptical = to_participant_prior(CONFIG["priors"]["sceptical"])
    with m:
        pm.set_data({"prior_gamma_mean": -0.4, "prior_gamma_sd": 0.2, "prior_tau": 0.05})
    expected = (
        stats.norm.logpdf(g, -0.4, 0.2)
        - stats.norm.logpdf(g, PRIOR.gamma_mean, PRIOR.gamma_sd)
        + stats.halfnorm.logpdf(tau, scale=0.05)
        - stats.halfnorm.logpdf(tau, scale=PRIOR.tau)
    )
    assert logp(point) - before == pytest.approx(expected, rel=1e-9)
    # a whole prior set swapped in: same compiled graph, only gamma's prior changes (tau equal in both sets)
    with m:
        pm.set_data(participant_prior_data(sceptical, n_followups=4))
    expected = stats.norm.logpdf(g, sceptical.gamma_mean, sceptical.gamma_sd) - stats.norm.logpdf(
        g, PRIOR.gamma_mean, PRIOR.gamma_sd
    )
    assert logp(point) - before == pytest.approx(expected, rel=1e-9)


def test_data_swap_gives_the_model_built_from_the_new_data(mdd_df):
    """Same missing pattern -> same graph: pm.set_data with another cohort's values equals building from it."""
    other = set_missing(simulate_from_model(MDD, 24, {"gamma_mean": 0.2}, seed=99), MDD_MISSING)
    d1 = CohortData.from_long(mdd_df, MDD, "GRID-HAMD")
    d2 = CohortData.from_long(other, MDD, "GRID-HAMD")
    m1, m2 = build_outcome_model(d1, PRIOR), build_outcome_model(d2, PRIOR)
    point = random_point(m1, 8)
    logp1 = m1.compile_logp()
    with m1:
        pm.set_data(outcome_data_values(d2))
    assert logp1(point) == pytest.approx(m2.compile_logp()(point), rel=1e-12)


def test_prior_predictive_slopes_have_the_right_shape_and_scale(mdd, mdd_model):
    with mdd_model:
        names = ["slope_std", "slope_points", "slope_mcid", "gamma_mean"]
        prior = pm.sample_prior_predictive(draws=400, var_names=names, random_seed=1).prior
    assert prior["slope_points"].shape == (1, 400, 2, 4)
    assert prior["slope_points"].dims[2:] == ("alliance_time", "followup")
    assert_allclose(prior["slope_points"], prior["slope_std"] * mdd.outcome_scale, rtol=1e-10)
    assert_allclose(prior["slope_mcid"], prior["slope_points"] / mdd.mcid, rtol=1e-10)
    # gamma_mean follows the reference prior N(0, 0.41): a loose check of the draws
    assert float(prior["gamma_mean"].std()) == pytest.approx(PRIOR.gamma_sd, rel=0.15)


# --- alliance model -------------------------------------------------------------------------------------------


def test_alliance_model_structure_and_density(mdd):
    m = build_alliance_model(mdd, PRIOR)
    assert {v.name for v in m.free_RVs} == {"theta", "sigma_v", "sigma_x", "v_z"}
    assert {v.name for v in m.deterministics} == {"alliance_change", "alliance_change_d"}
    assert m.named_vars_to_dims["alliance_change"] == ("alliance_time",)
    assert len(m.coords["alliance_obs"]) == 45  # missing values left out of the likelihood
    assert {n for n in m.named_vars if n.startswith("prior_")} == {"prior_theta_sd", "prior_sigma_v", "prior_sigma_x"}
    vals = alliance_data_values(mdd)
    centre, spread = vals["alliance_centre"], vals["alliance_spread"]
    obs = mdd.alliance[np.isfinite(mdd.alliance)]
    assert (centre, spread) == pytest.approx((obs.mean(), obs.std(ddof=1)))
    point = random_point(m, 3)
    point["theta"] = centre + point["theta"] * 0.3
    sv, sx = np.exp(point["sigma_v_log__"]), np.exp(point["sigma_x_log__"])
    x_mean = point["theta"][None, :] + sv * point["v_z"][:, None]
    ok = np.isfinite(mdd.alliance)
    expected = (
        stats.norm.logpdf(point["theta"], centre, spread).sum()
        + stats.halfnorm.logpdf(sv, scale=spread) + point["sigma_v_log__"]
        + stats.halfnorm.logpdf(sx, scale=spread) + point["sigma_x_log__"]
        + stats.norm.logpdf(point["v_z"]).sum()
        + stats.norm.logpdf(mdd.alliance[ok], x_mean[ok], sx).sum()
    )  # fmt: skip
    assert m.compile_logp()(point) == pytest.approx(expected, rel=1e-10)
    with m:
        names = ["alliance_change", "alliance_change_d", "theta", "sigma_v", "sigma_x"]
        draws = pm.sample_prior_predictive(draws=50, var_names=names, random_seed=2).prior
    assert_allclose(draws["alliance_change"][..., 0], 0.0)
    assert_allclose(draws["alliance_change"][..., 1], draws["theta"][..., 1] - draws["theta"][..., 0], rtol=1e-10)
    pooled = np.sqrt(draws["sigma_v"] ** 2 + draws["sigma_x"] ** 2)
    assert_allclose(draws["alliance_change_d"], draws["alliance_change"] / pooled, rtol=1e-10)


# --- simulator ------------------------------------------------------------------------------------------------


def test_simulator_writes_every_designed_cell():
    df = simulate_from_model(MDD, 24, {"n_missing_alliance": 4, "n_missing_followup": 3}, seed=4)
    assert list(df.columns) == ["participant_id", "timepoint", "measure", "value"]
    assert df["value"].dtype == float
    designed = 2 + 1 + 4  # alliance timepoints, baseline, follow-ups
    assert len(df) == 24 * designed and not df.duplicated(["participant_id", "timepoint", "measure"]).any()
    is_alliance = df["measure"] == "alliance_total"
    assert df.loc[is_alliance, "value"].isna().sum() == 4
    assert df.loc[~is_alliance, "value"].isna().sum() == 3
    assert df.loc[is_alliance, "value"].dropna().between(1, 7).all()
    assert df.loc[~is_alliance, "value"].dropna().between(0, 52).all()
    again = simulate_from_model(MDD, 24, {"n_missing_alliance": 4, "n_missing_followup": 3}, seed=4)
    pd.testing.assert_frame_equal(df, again)
    ptsd = simulate_from_model(PTSD, 5, {}, seed=4)
    assert set(ptsd["measure"]) == {"WAI", "CAPS-5", "IES-R"} and len(ptsd) == 5 * (3 + 2 * 2)


def test_simulator_truth_matches_ols_in_a_large_cohort():
    """With n large and no clipping, OLS of each follow-up on baseline + all alliance timepoints finds slope_raw."""
    gamma = np.array([[-0.4, -0.2, 0.0, 0.1], [-0.1, -0.3, -0.2, 0.2]])
    params = {"gamma": gamma, "clip": False, "theta": [4.8, 5.3]}
    df = simulate_from_model(MDD, 20000, params, seed=6)
    truth = simulation_truth(MDD, params)
    assert_allclose(truth["alliance_change"], [0.0, 0.5])
    assert_allclose(truth["alliance_change_d"], [0.0, 0.5 / np.hypot(0.5, 0.35)])
    data = CohortData.from_long(df, MDD, "GRID-HAMD")
    design = np.column_stack([np.ones(20000), data.baseline, data.alliance])
    for t in range(4):
        coef = np.linalg.lstsq(design, data.followup[:, t], rcond=None)[0]
        assert_allclose(coef[2:], truth["slope_raw"]["GRID-HAMD"][:, t], atol=0.15)  # points per alliance point
    assert_allclose(data.alliance_mean, [4.8, 5.3], atol=0.02)
    # the map onto the cohort's standardised scale is a rescaling by alliance SD / outcome SD
    std = std_slope_from_raw(data, truth["slope_raw"]["GRID-HAMD"])
    assert_allclose(std * data.outcome_scale / data.alliance_sd[:, None], truth["slope_raw"]["GRID-HAMD"])


def test_simulator_rejects_wrong_gamma_shape():
    with pytest.raises(ValueError, match=r"gamma has shape \(2, 2\)"):
        simulate_from_model(MDD, 10, {"gamma": np.zeros((2, 2))}, seed=0)


def test_participant_prior_is_frozen():
    with pytest.raises(AttributeError):
        ParticipantPrior(0.0, 0.4, 0.15).tau = 1.0
