"""SBC statistics against known answers: ranks, the exact simultaneous ECDF band against brute-force simulation,
coverage arithmetic, and verdicts for a conjugate normal-normal model whose posterior is known in closed form
(draws generated directly, no MCMC): the correct posterior passes, misspecified ones are caught."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models import sbc

# --- ranks ------------------------------------------------------------------------------------------------------


def test_rank_counts_draws_below_and_thinning_keeps_evenly_spaced_draws():
    draws = np.arange(100.0)  # 0..99
    assert sbc.rank(-1.0, draws) == 0
    assert sbc.rank(1000.0, draws) == 100
    assert sbc.rank(41.5, draws) == 42
    kept = sbc.thin(draws, 10)
    assert kept.size == 10 and kept[0] == 0 and kept[-1] == 99 and np.all(np.diff(kept) >= 10)
    assert sbc.rank(41.5, draws, thin_to=10) == int(np.sum(kept < 41.5))
    with pytest.raises(ValueError, match="thin_to"):
        sbc.rank(0.0, draws, thin_to=101)


def test_rank_breaks_ties_uniformly_at_random():
    draws = np.array([0.0, 1.0, 1.0, 1.0, 2.0])  # value 1.0: one draw below, three tied -> rank in {1, 2, 3, 4}
    rng = np.random.default_rng(3)
    ranks = np.array([sbc.rank(1.0, draws, rng=rng) for _ in range(8000)])
    counts = np.bincount(ranks, minlength=6)
    assert counts[0] == counts[5] == 0
    assert stats.chisquare(counts[1:5]).pvalue > 1e-3
    assert sbc.rank(1.0, draws) == sbc.rank(1.0, draws)  # default generator is seeded: reproducible


# --- the simultaneous band --------------------------------------------------------------------------------------


def _brute_force_coverage(band, n_sim, seed):
    """Share of simulated uniform rank sets whose ECDF stays inside the band at every cut point."""
    rng = np.random.default_rng(seed)
    ranks = np.sort(rng.integers(0, band.n_ranks, size=(n_sim, band.n_reps)), axis=1)
    counts = np.stack([np.searchsorted(r, band.cut) for r in ranks])
    return ((counts >= band.lower_count) & (counts <= band.upper_count)).all(axis=1).mean()


@pytest.mark.parametrize("n_reps, n_ranks", [(200, 100), (50, 20), (100, 1000)])
def test_band_coverage_is_exact_against_brute_force_simulation(n_reps, n_ranks):
    band = sbc.ecdf_band(n_reps, n_ranks, prob=0.95)
    assert 0.95 <= band.coverage < 0.96  # discrete counts: at least the level, and not far above
    simulated = _brute_force_coverage(band, 20000, seed=11)
    assert abs(simulated - band.coverage) < 4 * np.sqrt(0.95 * 0.05 / 20000)
    # simultaneous, so much wider than the pointwise 95% band at every point
    pointwise_hi = stats.binom.ppf(0.975, n_reps, band.z)
    assert band.gamma < 0.05 and np.all(band.upper_count >= pointwise_hi)


def test_band_for_one_cut_point_is_the_pointwise_binomial_interval():
    # n_ranks = 2: the only check is #(rank = 0) ~ Bin(N, 1/2); its central 95% interval already covers >= 95%
    band = sbc.ecdf_band(50, 2, prob=0.95)
    assert band.gamma == pytest.approx(0.05)
    assert (band.lower_count[0], band.upper_count[0]) == (
        stats.binom.ppf(0.025, 50, 0.5),
        stats.binom.ppf(0.975, 50, 0.5),
    )
    assert band.coverage == pytest.approx(stats.binom.cdf(32, 50, 0.5) - stats.binom.cdf(17, 50, 0.5))


def test_band_is_deterministic_and_cached():
    assert sbc.ecdf_band(120, 50) is sbc.ecdf_band(120, 50)
    assert len(sbc.ecdf_band(100, 5000).cut) == 100  # large L: checked at 100 evenly spaced cut points


# --- coverage arithmetic -----------------------------------------------------------------------------------------


def test_interval_hits_use_central_quantiles():
    draws = np.linspace(0.0, 1.0, 1001)  # quantile q is q itself
    assert sbc.interval_hits(0.5, draws) == {"in50": True, "in90": True}
    assert sbc.interval_hits(0.2, draws) == {"in50": False, "in90": True}  # 50%: [.25, .75]; 90%: [.05, .95]
    assert sbc.interval_hits(0.97, draws) == {"in50": False, "in90": False}
    vec = sbc.interval_hits(np.array([0.5, 0.2]), np.column_stack([draws, draws]), probs=(0.5,))
    assert vec["in50"].tolist() == [True, False]


def test_coverage_and_its_exact_binomial_interval():
    rows = [{"replicate": i, "parameter": "a", "rank": i % 10, "in50": i < 45, "in90": i < 90} for i in range(100)]
    out = sbc.summarise(pd.DataFrame(rows), n_ranks=10).iloc[0]
    assert out["coverage50"] == 0.45 and out["coverage90"] == 0.90
    # Clopper-Pearson from the beta quantiles
    assert out["coverage50_low"] == pytest.approx(stats.beta.ppf(0.025, 45, 56))
    assert out["coverage50_high"] == pytest.approx(stats.beta.ppf(0.975, 46, 55))
    assert out["verdict"] == "calibrated"  # ranks exactly uniform; 0.5 inside [0.35, 0.55]


# --- verdicts -----------------------------------------------------------------------------------------------------


def test_uniform_ranks_pass_and_few_replicates_are_not_judged():
    rng = np.random.default_rng(0)
    n = 400
    table = pd.DataFrame({
        "replicate": np.arange(n), "parameter": "p", "rank": rng.integers(0, 100, n),
        "in50": rng.random(n) < 0.5, "in90": rng.random(n) < 0.9,
    })  # fmt: skip
    out = sbc.summarise(table, n_ranks=100).iloc[0]
    assert not out["band_exceeded"] and out["max_outside_band"] == 0 and out["verdict"] == "calibrated"
    assert out["chisq_p"] > 0.01
    few = sbc.summarise(table.head(sbc.MIN_REPLICATES - 1).assign(rank=0), n_ranks=100).iloc[0]
    assert few["band_exceeded"]  # every rank 0 is far outside, but 19 replicates are not judged
    assert few["verdict"] == "too few replicates to judge"


def test_ranks_piled_at_one_end_exceed_the_band():
    table = pd.DataFrame({"replicate": range(100), "parameter": "p", "rank": np.arange(100) % 30})  # never above 29
    out = sbc.summarise(table, n_ranks=100).iloc[0]
    assert out["band_exceeded"] and out["max_outside_band"] > 0 and out["verdict"] == "miscalibrated"
    assert out["max_abs_ecdf_diff"] == pytest.approx(0.7)  # ECDF reaches 1 at z = 0.30
    assert out["chisq_p"] < 1e-6


TAU, SIGMA, N_OBS = 1.0, 1.0, 10  # theta ~ N(0, TAU); y_1..N_OBS ~ N(theta, SIGMA)


def conjugate_sbc(seed, n_rep=200, assumed_sigma=SIGMA, shift_sd=0.0, n_draws=1000, thin_to=99):
    """SBC of the closed-form posterior of a normal mean, computed with an assumed sigma and an optional bias."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_rep):
        theta = rng.normal(0.0, TAU)
        ybar = rng.normal(theta, SIGMA / np.sqrt(N_OBS))
        precision = 1 / TAU**2 + N_OBS / assumed_sigma**2
        mean, sd = ybar * N_OBS / assumed_sigma**2 / precision, precision**-0.5
        draws = rng.normal(mean + shift_sd * sd, sd, n_draws)
        rows += sbc.replicate_rows(i, {"theta": theta}, {"theta": draws}, thin_to=thin_to)
    return sbc.summarise(pd.DataFrame(rows)).iloc[0]


SEEDS = range(20)


def test_correct_posterior_is_calibrated():
    verdicts = [conjugate_sbc(s)["verdict"] for s in SEEDS]
    # about 13% of runs of a calibrated posterior are flagged by chance (three 95% checks; see sbc.summarise):
    # P(more than 7 of 20) < 0.5% at that rate
    assert verdicts.count("miscalibrated") <= 7
    assert verdicts.count("calibrated") + verdicts.count("miscalibrated") == len(verdicts)


@pytest.mark.parametrize(
    "misspecification",
    [
        {"assumed_sigma": 2 * SIGMA},  # too wide: ranks pile up in the middle
        {"assumed_sigma": SIGMA / 2},  # too narrow: ranks pile up at both ends
        {"shift_sd": 0.5},  # biased by half a posterior SD
    ],
    ids=["sigma_doubled", "sigma_halved", "biased"],
)
def test_misspecified_posterior_is_flagged_miscalibrated(misspecification):
    results = [conjugate_sbc(s, **misspecification) for s in SEEDS]
    assert all(r["verdict"] == "miscalibrated" for r in results)
    assert np.mean([r["band_exceeded"] for r in results]) > 0.8  # the ECDF band alone catches most runs


def test_overdispersed_posterior_overcovers_and_underdispersed_undercovers():
    wide, narrow = conjugate_sbc(0, assumed_sigma=2 * SIGMA), conjugate_sbc(0, assumed_sigma=SIGMA / 2)
    assert wide["coverage50_low"] > 0.5 and wide["coverage90_low"] > 0.9
    assert narrow["coverage50_high"] < 0.5 and narrow["coverage90_high"] < 0.9
