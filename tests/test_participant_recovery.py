"""Parameter recovery of the participant-level models (models.participant) with nutpie.

Cohorts are drawn by ``simulate_from_model`` with known slopes (standardised on the population alliance
distribution) and fitted; the known values are mapped onto each fitted cohort's own standardisation with
``std_slope_from_raw`` (exact: the cohort's alliance SD and outcome SD are data constants of the model).

* fast (unmarked): one cohort of n = 60 shaped like the depression trial (2 alliance timepoints x 4 follow-ups,
  3 missing alliance values) with a strong mean slope -0.5; the truth must be in the 94% HDI of gamma_mean
  and its sign recovered.
* slow: the studies' sizes (PTSD: n = 22, 3 x 1; depression: n = 24, 2 x 4 with 4 missing alliance values),
  10 seeds each; every slope's 94% HDI must cover its truth in at least 85% of slope x seed cases, and the
  alliance model's change likewise. Each model structure is compiled once and refitted with nutpie's
  ``with_data`` (the missing pattern is the same for every seed, so the graph is too). Coverage, divergences
  and times are printed (run with ``-s`` to see them).
"""

import time

import arviz as az
import numpy as np
import nutpie
import pytest
from conftest import COHORT_SPECS, CONFIG

from models.participant import (
    CohortData,
    alliance_data_values,
    build_alliance_model,
    build_outcome_model,
    outcome_data_values,
    simulate_from_model,
    simulation_truth,
    std_slope_from_raw,
    to_participant_prior,
)

SPECS = COHORT_SPECS
PRIOR = to_participant_prior(CONFIG["priors"]["reference"])
HDI = 0.94


def sample(compiled, seed, *, chains=2, draws=500, tune=500, target_accept=0.9):
    return nutpie.sample(
        compiled, draws=draws, tune=tune, chains=chains, cores=2, seed=seed,
        target_accept=target_accept, progress_bar=False,
    )  # fmt: skip


def covers(idata, name, truth):
    """Whether each entry of ``truth`` lies in the 94% HDI of posterior variable ``name`` (same shape)."""
    hdi = az.hdi(idata, hdi_prob=HDI, var_names=[name])[name]
    lo, hi = hdi.sel(hdi="lower").to_numpy(), hdi.sel(hdi="higher").to_numpy()
    return (lo <= truth) & (truth <= hi)


def test_fast_recovery_of_a_strong_mean_slope():
    spec = SPECS["mdd"]
    params = {"gamma_mean": -0.5, "n_missing_alliance": 3}
    df = simulate_from_model(spec, 60, params, seed=2024)
    data = CohortData.from_long(df, spec, "GRID-HAMD")
    assert np.isnan(data.alliance).sum() == 3
    truth = std_slope_from_raw(data, simulation_truth(spec, params)["slope_raw"]["GRID-HAMD"])
    idata = sample(nutpie.compile_pymc_model(build_outcome_model(data, PRIOR)), seed=1)
    post = idata.posterior
    assert covers(idata, "gamma_mean", truth.mean())
    assert float((post["gamma_mean"] < 0).mean()) > 0.99
    assert float(post["slope_mean_points"].mean()) < 0
    assert post["slope_std"].shape[2:] == (2, 4) and post["x_missing"].shape[2:] == (3,)
    assert float(az.rhat(idata, var_names=["gamma_mean"])["gamma_mean"]) < 1.05


# --- slow: coverage at the studies' sizes ------------------------------------------------------------------

SEEDS = range(10)
SLOW_SETTINGS = {"chains": 4, "draws": 1000, "tune": 1000, "target_accept": 0.99}
COHORTS = {
    # cohort: (outcome, n, simulation parameters)
    "ptsd": ("CAPS-5", 22, {"gamma": [[-0.35], [-0.2], [-0.3]], "theta": [5.0, 5.2, 5.6]}),
    "mdd": (
        "GRID-HAMD",
        24,
        {
            "gamma": [[-0.3, -0.25, -0.2, -0.2], [-0.15, -0.1, -0.2, -0.05]],
            "theta": [5.1, 5.5],
            "missing_alliance": [(1, 0), (4, 1), (10, 1), (17, 1)],
        },
    ),
}


def recovery_run(cohort):
    spec = SPECS[cohort]
    outcome, n, params = COHORTS[cohort]
    truth = simulation_truth(spec, params)
    datasets = [CohortData.from_long(simulate_from_model(spec, n, params, seed=s), spec, outcome) for s in SEEDS]
    t0 = time.perf_counter()
    compiled_y = nutpie.compile_pymc_model(build_outcome_model(datasets[0], PRIOR))
    compiled_a = nutpie.compile_pymc_model(build_alliance_model(datasets[0], PRIOR))
    compile_s = time.perf_counter() - t0
    slope_hits, change_hits, divergences, r_hat, fit_s = [], [], [], [], []
    for seed, data in zip(SEEDS, datasets, strict=True):
        t0 = time.perf_counter()
        idata = sample(compiled_y.with_data(**outcome_data_values(data)), seed=100 + seed, **SLOW_SETTINGS)
        fit_s.append(time.perf_counter() - t0)
        post = idata.posterior
        # the swapped data reached the Deterministics too
        np.testing.assert_allclose(post["slope_points"], post["slope_std"] * data.outcome_scale, rtol=1e-8)
        slope_hits.append(covers(idata, "slope_std", std_slope_from_raw(data, truth["slope_raw"][outcome])).ravel())
        divergences.append(int(idata.sample_stats["diverging"].sum()))
        r_hat.append(float(az.rhat(idata, var_names=["slope_std", "gamma_mean", "tau"]).max().to_array().max()))
        ida = sample(compiled_a.with_data(**alliance_data_values(data)), seed=200 + seed, **SLOW_SETTINGS)
        divergences[-1] += int(ida.sample_stats["diverging"].sum())
        change_hits.append(
            np.concatenate(
                [
                    covers(ida, "alliance_change", truth["alliance_change"])[1:],
                    covers(ida, "alliance_change_d", truth["alliance_change_d"])[1:],
                ]
            )
        )
    return {
        "slope": np.concatenate(slope_hits),
        "change": np.concatenate(change_hits),
        "divergences": divergences,
        "r_hat": max(r_hat),
        "compile_s": compile_s,
        "fit_s": float(np.mean(fit_s)),
    }


@pytest.mark.slow
def test_slope_and_alliance_change_coverage_at_the_studies_sizes():
    results = {cohort: recovery_run(cohort) for cohort in COHORTS}
    for cohort, r in results.items():
        print(
            f"\n{cohort}: slope coverage {r['slope'].mean():.3f} ({r['slope'].sum()}/{r['slope'].size}), "
            f"alliance change coverage {r['change'].mean():.3f} ({r['change'].sum()}/{r['change'].size}), "
            f"divergences per seed {r['divergences']}, max R-hat {r['r_hat']:.3f}, "
            f"compile {r['compile_s']:.1f} s, outcome fit {r['fit_s']:.1f} s per seed"
        )
    slope = np.concatenate([r["slope"] for r in results.values()])
    change = np.concatenate([r["change"] for r in results.values()])
    print(f"pooled slope coverage {slope.mean():.3f} over {slope.size} slope x seed cases")
    assert slope.mean() >= 0.85
    assert change.mean() >= 0.85
    assert all(r["r_hat"] < 1.02 for r in results.values())
