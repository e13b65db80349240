"""Prior predictive summaries on constructed prior draws whose answers are known in closed form."""

import arviz as az
import numpy as np
import pytest
import xarray as xr
from scipy import stats

from models.prior_predictive import prior_predictive_r, rho_prior_summary, slope_prior_summary

S = 200_000  # draws; Monte Carlo SE of a share <= 0.5 / sqrt(S) ~ 0.0011


def _prior(**variables) -> az.InferenceData:
    """An InferenceData whose prior group holds the given (chain, draw, ...) arrays."""
    dims = {k: [f"{k}_dim"] for k, v in variables.items() if v.ndim > 2}
    return az.from_dict(prior=variables, dims=dims)


def test_pooled_rho_share_and_quantiles_match_tanh_of_a_normal():
    s = 0.56  # z-scale sd of the reference prior set
    mu = np.random.default_rng(0).normal(0.0, s, (1, S))
    row = rho_prior_summary(_prior(rho_pooled=np.tanh(mu)), plausible=0.8).iloc[0]
    assert row["quantity"] == "rho_pooled" and row["n_draws"] == S
    assert row["share_plausible"] == pytest.approx(2 * stats.norm.cdf(np.arctanh(0.8) / s) - 1, abs=0.004)
    assert row["share_negative"] == pytest.approx(0.5, abs=0.004)
    for p in (0.025, 0.5, 0.975):  # quantiles of tanh(N(0, s)) are tanh of the normal's quantiles
        assert row[f"q{100 * p:g}"] == pytest.approx(np.tanh(s * stats.norm.ppf(p)), abs=0.01)


def test_per_level_and_pooled_levels():
    rng = np.random.default_rng(1)
    study = np.stack([np.full(S, -0.3), rng.uniform(-1, 1, S)], axis=-1)[None]  # level 0 fixed, level 1 uniform
    prior = az.from_dict(prior={"rho_study": study}, coords={"study": ["A", "B"]}, dims={"rho_study": ["study"]})
    levels = rho_prior_summary(prior, var_names=("rho_study", "rho_pooled"), by_level=True).set_index("level")
    assert list(levels.index) == ["A", "B"]  # rho_pooled absent: skipped
    assert levels.loc["A", "share_plausible"] == 1.0 and levels.loc["A", "q50"] == pytest.approx(-0.3)
    assert levels.loc["B", "share_plausible"] == pytest.approx(0.8, abs=0.005)  # |U(-1, 1)| <= 0.8
    pooled = rho_prior_summary(prior, var_names=("rho_study",)).iloc[0]
    assert pooled["level"] == "all" and pooled["share_plausible"] == pytest.approx(0.9, abs=0.005)


def test_prior_predictive_r_under_rho_zero_follows_the_t_distribution():
    # rho = 0: r sqrt(n - 2) / sqrt(1 - r^2) ~ t(n - 2), so P(|r| <= c) and the quantiles of r are known
    n = np.array([22.0, 8.0])
    prior = az.from_dict(prior={"rho_row": np.zeros((1, 40_000, 2))}, coords={"row": ["Z01", "L01"]},
                         dims={"rho_row": ["row"]})  # fmt: skip
    out = prior_predictive_r(prior, n, seed=2, plausible=0.5).set_index("row")

    def t_of(r, m):
        return r * np.sqrt(m - 2) / np.sqrt(1 - r**2)

    for label, m in zip(["Z01", "L01"], n, strict=True):
        share = 2 * stats.t.cdf(t_of(0.5, m), m - 2) - 1
        assert out.loc[label, "share_plausible"] == pytest.approx(share, abs=0.01)
        t975 = stats.t.ppf(0.975, m - 2)
        assert out.loc[label, "q97.5"] == pytest.approx(t975 / np.sqrt(m - 2 + t975**2), abs=0.01)
    with pytest.raises(ValueError, match="one value per row"):
        prior_predictive_r(prior, [22.0], seed=0)


def test_slope_shares_against_mcid_and_scale_range():
    rng = np.random.default_rng(3)
    m, s = -2.0, 3.0
    slope = rng.normal(m, s, (1, S))
    outcome = {"min": 0, "max": 20, "mcid": 4}
    row = slope_prior_summary(_prior(slope_mean_points=slope), outcome, var_names=("slope_mean_points",)).iloc[0]
    # P(|slope| <= 4) and P(|4 x slope| <= 20) = P(|slope| <= 5) for slope ~ N(-2, 3)
    assert row["share_within_mcid"] == pytest.approx(stats.norm.cdf(4, m, s) - stats.norm.cdf(-4, m, s), abs=0.004)
    assert row["share_within_range"] == pytest.approx(stats.norm.cdf(5, m, s) - stats.norm.cdf(-5, m, s), abs=0.004)
    assert row["q50"] == pytest.approx(m, abs=0.03)
    wider = slope_prior_summary(_prior(slope_mean_points=slope), outcome, ("slope_mean_points",), alliance_span_sd=2)
    assert wider.iloc[0]["share_within_range"] == pytest.approx(stats.norm.cdf(10, m, s) - stats.norm.cdf(-10, m, s),
                                                                 abs=0.004)  # fmt: skip


def test_slope_cells_and_missing_variables():
    cells = np.random.default_rng(4).normal(0.0, 1.0, (1, 1000, 2, 3))
    prior = xr.Dataset({"slope_points": (("chain", "draw", "alliance_time", "followup"), cells)},
                       coords={"alliance_time": ["a1", "a2"], "followup": ["t1", "t2", "t3"]})  # fmt: skip
    outcome = {"min": 0, "max": 52, "mcid": 3}
    out = slope_prior_summary(prior, outcome, var_names=("slope_points",), by_level=True)
    assert out["level"].tolist() == ["a1,t1", "a1,t2", "a1,t3", "a2,t1", "a2,t2", "a2,t3"]
    assert (out["share_within_mcid"] > 0.99).all()
    with pytest.raises(ValueError, match="slope_mean_points"):
        slope_prior_summary(prior, outcome)
    with pytest.raises(ValueError, match="mcid"):
        slope_prior_summary(prior, {"min": 0, "max": 52}, var_names=("slope_points",))
