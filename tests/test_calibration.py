"""Tests for models.calibration: data of the real shape for SBC, prior draws, and the rank runner.

Known answers: the cells a row's report could name (hand-worked), simulated reports that must hold the
true rho when n is huge (r -> rho), the outcome model's forward draws (y must follow the *simulated*
alliance, with a slope fixed by a near-point prior), and ranks/intervals of a conjugate normal model.
"""

import dataclasses

import numpy as np
import pymc as pm
import pytest
from conftest import COHORT_SPECS, CONFIG, published_observations
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.traversal import graph_inputs

from models import calibration as cal
from models.participant import CohortData, build_outcome_model, simulate_from_model, to_participant_prior
from models.priors import to_z_prior
from models.published import PublishedData, build_published_model, observation_data, observation_names

R_MAX = cal.R_MAX


def row(lo1, hi1, lo2=0.0, hi2=0.0):
    return {"r_lo1": lo1, "r_hi1": hi1, "r_lo2": lo2, "r_hi2": hi2, "has_second": float(hi2 > lo2)}


@pytest.mark.parametrize(
    "r, expected",
    [(0.1, (-0.433, 0.433, 0, 0)), (-0.5, (-R_MAX, -0.433, 0, 0)), (0.7, (0.433, R_MAX, 0, 0))],
)
def test_not_significant_row_names_the_cell_of_the_simulated_r(r, expected):
    mags, signed = cal.cut_points(row(-0.433, 0.433))
    assert mags.tolist() == [0.433] and signed
    assert cal.report_like(r, mags, signed) == pytest.approx(expected)


@pytest.mark.parametrize(
    "r, expected",
    [(0.55, (-0.6, -0.5, 0.5, 0.6)), (-0.7, (-R_MAX, -0.6, 0.6, R_MAX)), (0.1, (-0.5, 0.5, 0, 0))],
)
def test_two_sided_row_stays_two_sided(r, expected):
    mags, signed = cal.cut_points(row(-0.6, -0.5, 0.5, 0.6))
    assert mags.tolist() == [0.5, 0.6] and not signed
    assert cal.report_like(r, mags, signed) == pytest.approx(expected)


@pytest.fixture(scope="module")
def track_a():
    grouping = CONFIG["published"]["grouping"]
    data = PublishedData.from_observations(published_observations(), grouping)
    return data, build_published_model(data, to_z_prior(CONFIG["priors"]["reference"], grouping), "fisher_z")


@pytest.mark.parametrize("likelihood", ["fisher_z", "exact"])
def test_simulated_reports_keep_each_rows_type_and_hold_rho_when_n_is_huge(track_a, likelihood):
    data, _ = track_a
    huge = dataclasses.replace(data, arrays={**data.arrays, "n_eff": np.full_like(data.arrays["n_eff"], 1e12)})
    rng = np.random.default_rng(0)
    for _ in range(20):
        rho = rng.uniform(-0.9, 0.9, len(data.coords["row"]))
        sim = cal.simulate_reported(huge, rho, likelihood, rng)
        point = data.arrays["is_point"]
        np.testing.assert_allclose(sim["r_obs"][point], np.round(rho[point], 2), atol=0.0051)
        inside1 = (sim["r_lo1"] <= rho) & (rho <= sim["r_hi1"])
        inside2 = (sim["r_lo2"] <= rho) & (rho <= sim["r_hi2"]) & (sim["has_second"] > 0.5)
        assert np.all((inside1 | inside2)[~point])
        # a two-sided (sign unknown) real row never becomes one-sided unless its cell straddles zero
        two_sided = data.arrays["has_second"]
        assert np.all((sim["has_second"][two_sided] > 0.5) | (sim["r_lo1"][two_sided] < 0))


@pytest.mark.parametrize("likelihood", ["fisher_z", "exact"])
def test_simulated_containers_are_the_reports_on_the_likelihoods_scale(track_a, likelihood):
    """simulate_published = the reported statistics, as the likelihood's containers (z scale for Fisher-z)."""
    data, _ = track_a
    rho = np.random.default_rng(1).uniform(-0.9, 0.9, len(data.coords["row"]))
    reported = cal.simulate_reported(data, rho, likelihood, np.random.default_rng(2))
    sim = cal.simulate_published(data, rho, likelihood, np.random.default_rng(2))
    assert set(sim) == set(observation_names(data, likelihood))
    if likelihood == "exact":
        for name, values in sim.items():
            np.testing.assert_array_equal(values, reported[name[4:]])
    else:
        np.testing.assert_allclose(np.tanh(sim["obs_z_lo1"]), reported["r_lo1"], atol=1e-12)
        np.testing.assert_allclose(np.tanh(sim["obs_z_obs"]), reported["r_obs"], atol=1e-12)
        expected_sd = np.sqrt(1.0 / (data.arrays["n_eff"] - 3.0) + data.arrays["extra_sd"] ** 2)
        np.testing.assert_allclose(sim["obs_sd"], expected_sd)
        log_norm = -np.log(expected_sd) - 0.5 * np.log(2 * np.pi) - np.log1p(-(reported["r_obs"] ** 2))
        np.testing.assert_allclose(sim["obs_log_norm"], log_norm)


def test_track_a_truths_and_datasets_line_up(track_a):
    data, model = track_a
    monitored = cal.monitored(model, "published")
    assert "rho_pooled" in monitored and "sigma_residual" in monitored
    truths, datasets = cal.track_a_datasets(model, data, "fisher_z", monitored, 5, seed=4)
    assert len(datasets) == 5 and all(v.shape[0] == 5 for v in truths.values())
    assert set(datasets[0]) == set(observation_data(data)) == set(model.named_vars) & set(datasets[0])
    again, _ = cal.track_a_datasets(model, data, "fisher_z", monitored, 5, seed=4)
    np.testing.assert_array_equal(truths["rho_pooled"], again["rho_pooled"])  # seeded


def _logp_data_inputs(model):
    """Observation containers the log density reads: the ones a compiled model takes through with_data."""
    return {v.name for v in graph_inputs([model.logp()]) if isinstance(v, SharedVariable) and v.name.startswith("obs_")}


def test_simulated_data_sets_only_containers_the_log_density_reads(track_a):
    data, model = track_a
    assert not data.arrays["has_second"].any()  # the real table: every sign is reported
    _, datasets = cal.track_a_datasets(model, data, "fisher_z", cal.monitored(model, "published"), 2, seed=1)
    assert set(datasets[0]) == _logp_data_inputs(model)
    assert "obs_z_lo2" not in datasets[0]
    # a sign-unknown row brings the second interval into the graph, and into every simulated data set
    two_sided = dict(data.arrays, has_second=data.arrays["has_second"].copy())
    two_sided["r_lo2"], two_sided["r_hi2"] = data.arrays["r_lo2"].copy(), data.arrays["r_hi2"].copy()
    i = int(np.flatnonzero(~data.arrays["is_point"])[0])
    lo, hi = data.arrays["r_lo1"][i], data.arrays["r_hi1"][i]
    if lo < 0 < hi:  # a |r| < rc row cannot be two-sided: use the Bonferroni band shape instead
        lo, hi = -0.5429, -0.4329
    two_sided["r_lo1"] = data.arrays["r_lo1"].copy()
    two_sided["r_hi1"] = data.arrays["r_hi1"].copy()
    two_sided["r_lo1"][i], two_sided["r_hi1"][i] = lo, hi
    two_sided["r_lo2"][i], two_sided["r_hi2"][i], two_sided["has_second"][i] = -hi, -lo, True
    data2 = dataclasses.replace(data, arrays=two_sided)
    model2 = build_published_model(data2, to_z_prior(CONFIG["priors"]["reference"], CONFIG["published"]["grouping"]))
    _, datasets2 = cal.track_a_datasets(model2, data2, "fisher_z", cal.monitored(model2, "published"), 2, seed=1)
    assert {"obs_z_lo2", "obs_z_hi2", "obs_has_second"} <= set(datasets2[0])
    assert set(datasets2[0]) == _logp_data_inputs(model2)


def test_outcome_models_forward_draws_follow_the_simulated_alliance():
    """With the slope pinned near -2 SD/SD and tiny noise, prior-predictive y must track the *simulated* x.

    Before the fix the regression used the observed alliance container, so simulated y ignored simulated x
    and every SBC of the outcome model was miscalibrated (50% intervals held the truth 10% of the time).
    """
    spec = COHORT_SPECS["ptsd"]
    data = CohortData.from_long(simulate_from_model(spec, 22, seed=5), spec, "CAPS-5")
    model = build_outcome_model(data, to_participant_prior(CONFIG["priors"]["reference"]))
    with model:
        pm.set_data({"prior_gamma_mean": -2.0, "prior_gamma_sd": 1e-3, "prior_tau": 1e-3, "prior_sigma": 1e-2,
                     "prior_beta_sd": 1e-3, "prior_alpha_sd": 1e-3})  # fmt: skip
    _, datasets = cal.generic_datasets(model, {"x_observed": "x_data", "y": "y_data"}, [], 30, seed=2)
    n, n_a = data.alliance.shape
    rows, cols = data.alliance_observed_cells
    for d in datasets:
        x = np.full((n, n_a), np.nan)
        x[rows, cols] = d["x_data"]
        who = data.followup_observed_cells[0]  # participant of each observed outcome
        complete = ~np.isnan(x).any(axis=1)[who]  # imputed alliance cells are not in the data set
        np.testing.assert_allclose(d["y_data"][complete], -2.0 * x.sum(axis=1)[who][complete], atol=0.1)


def test_run_ranks_and_intervals_on_a_conjugate_model():
    with pm.Model() as model:
        y = pm.Data("y", np.zeros(50))
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("obs", mu, 1.0, observed=y)
    truths, datasets = cal.generic_datasets(model, {"obs": "y"}, ["mu"], 6, seed=9)
    settings = cal.SBCSettings(chains=2, draws=300, tune=300, target_accept=0.9, thin_to=49)
    ranks = cal.run(model, truths, datasets, settings, seed=1)
    assert list(ranks.columns) == cal.RANK_COLUMNS
    assert ranks["replicate"].tolist() == list(range(6))
    np.testing.assert_array_equal(ranks["truth"], truths["mu"])
    assert ranks["rank"].between(0, 49).all() and (ranks["n_ranks"] == 50).all()
    # posterior sd is 1/sqrt(51): every truth lies within the posterior's bulk, far from rank 0 or 49
    assert ranks["in90"].sum() >= 4
    data_means = np.array([d["y"].mean() for d in datasets])
    assert np.corrcoef(data_means, truths["mu"])[0, 1] > 0.9  # data really were simulated from each truth


@pytest.mark.slow
def test_sbc_of_track_a_catches_a_wrong_likelihood_scale(track_a):
    """Data simulated with 4x the sampling variance the model assumes (n_eff / 4): SBC must flag it.

    The same runner on correctly simulated data must not flag rho_pooled, so the failure is the scale's doing.
    """
    from models import sbc

    data, model = track_a
    monitored = ["rho_pooled", "sigma_residual"]
    wrong = dataclasses.replace(data, arrays={**data.arrays, "n_eff": (data.arrays["n_eff"] - 3.0) / 4.0 + 3.0})
    settings = cal.SBCSettings(chains=2, draws=300, tune=300, thin_to=49)
    verdicts = {}
    for name, sim_data in (("right", data), ("wrong", wrong)):
        truths, datasets = cal.track_a_datasets(model, sim_data, "fisher_z", monitored, 80, seed=21)
        # the model still sees the real n_eff (its sampling SD of z): only the simulation is misspecified
        for d in datasets:
            d["obs_sd"] = observation_data(data)["obs_sd"]
        ranks = cal.run(model, truths, datasets, settings, seed=5)
        verdicts[name] = sbc.summarise(ranks).set_index("parameter")["verdict"]
    assert verdicts["wrong"]["rho_pooled"] == "miscalibrated" or verdicts["wrong"]["sigma_residual"] == "miscalibrated"
    assert verdicts["right"]["rho_pooled"] == "calibrated"
