"""Workflow figures: each draws what its inputs say (band verdicts, shares, flagged observations, the stamp)."""

import arviz as az
import matplotlib.patches
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from reanalysis import workflow_plots as wp


def _texts(fig):
    return [t.get_text() for t in fig.texts] + [t.get_text() for ax in fig.axes for t in ax.texts + [ax.title]]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_sbc_ecdf_marks_the_parameter_outside_its_band():
    rng = np.random.default_rng(0)
    ranks = pd.DataFrame({
        "replicate": np.tile(np.arange(200), 2), "parameter": ["good"] * 200 + ["bad"] * 200,
        "rank": np.concatenate([rng.integers(0, 100, 200), rng.integers(40, 60, 200)]), "n_ranks": 100,
    })  # fmt: skip
    fig = wp.sbc_ecdf(ranks, synthetic=True)
    titles = {ax.get_title().split("\n")[0]: ax.get_title() for ax in fig.axes if ax.get_title()}
    assert "inside band" in titles["good"] and "outside band" in titles["bad"]
    assert len(fig.axes) == 4  # ECDF and histogram per parameter
    assert "SYNTHETIC DATA" in _texts(fig)


def test_prior_predictive_rho_prints_the_share_inside_the_plausible_range():
    draws = np.tanh(np.random.default_rng(1).normal(0, 0.56, (1, 4000)))
    prior = {
        "reference": az.from_dict(prior={"rho_pooled": draws}),
        "sceptical": az.from_dict(prior={"rho_pooled": draws * 0.3}),
    }
    fig = wp.prior_predictive_rho(prior, plausible=0.8)
    share = np.mean(np.abs(draws) <= 0.8)
    assert f"rho pooled: {share:.0%} inside" in _texts(fig)
    assert "rho pooled: 100% inside" in _texts(fig)
    assert "SYNTHETIC DATA" not in _texts(fig)


def test_prior_predictive_scale_counts_every_draw_with_the_tails_piled_at_the_ends():
    rng = np.random.default_rng(2)
    draws = {"reference": rng.standard_t(2, (1, 4000)) * 5, "sceptical": rng.normal(0, 2, (1, 4000))}
    prior = {name: az.from_dict(prior={"slope_points": d}) for name, d in draws.items()}
    fig = wp.prior_predictive_scale(prior, "slope_points", (-4.0, 4.0), "within one MCID", "slope", "t", True)
    for ax, d in zip(fig.axes, draws.values(), strict=True):
        (steps,) = [p for p in ax.patches if isinstance(p, matplotlib.patches.StepPatch)]
        counts, edges = steps.get_data().values, steps.get_data().edges
        assert len(counts) == 60 and counts.sum() == d.size  # draws beyond the axis are counted in its end bins
        assert counts[0] == np.sum(d < edges[1]) and counts[-1] == np.sum(d >= edges[-2])
        assert f"{np.mean((d >= -4) & (d <= 4)):.0%} inside" in _texts(fig)
    assert np.sum(np.abs(draws["reference"]) > edges[-1]) > 0  # the heavy tail does reach beyond the axis
    assert "SYNTHETIC DATA" in _texts(fig)


def test_sensitivity_chart_prints_diagnoses():
    table = pd.DataFrame({
        "prior_set": ["a", "a", "b", "b"], "parameter": ["mu", "tau"] * 2, "prior_sensitivity": [0.2, 0.01, 0.1, 0.0],
        "likelihood_sensitivity": [0.2, 0.3, 0.01, 0.2],
        "diagnosis": ["prior-data conflict", "-", "strong prior / weak likelihood", "-"],
    })  # fmt: skip
    fig = wp.sensitivity_chart(table)
    texts = _texts(fig)
    assert "prior-data conflict" in texts and "strong prior / weak likelihood" in texts and "-" not in texts
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]


def test_pareto_k_names_the_flagged_observations():
    pw = pd.DataFrame({"label": [f"#{i}" for i in range(60)], "pareto_k": np.linspace(-0.1, 0.6, 60)})
    pw.loc[7, "pareto_k"] = 0.95
    fig = wp.pareto_k({"fit": pw, "clean": pw.assign(pareto_k=0.1)})
    assert fig.axes[0].get_title() == "fit: 1 of 60 above 0.7" and fig.axes[1].get_title() == "clean: 0 of 60 above 0.7"
    assert "#7" in _texts(fig)


@pytest.mark.parametrize(
    "draws",
    [
        np.random.default_rng(0).normal(-0.5, 0.2, 8000),  # a posterior of z
        np.concatenate([np.random.default_rng(1).normal(-1, 0.1, 3000), np.random.default_rng(2).standard_t(3, 5000)]),
        np.random.default_rng(3).normal(0.0, 1.0, 2000),  # a prior
        np.arctanh(np.clip(np.random.default_rng(4).uniform(-1, 1, 2000), -0.999999, 0.999999)),  # long tails
    ],
)
def test_binned_kde_matches_scipy(draws):
    from scipy import stats

    from reanalysis.plots import RHO_GRID, gaussian_kde

    at = np.arctanh(RHO_GRID)
    exact = stats.gaussian_kde(draws)(at)
    binned = gaussian_kde(draws, at)
    assert np.max(np.abs(binned - exact)) < 1e-4 * exact.max()


def test_rho_density_integrates_to_the_share_of_draws_on_the_grid():
    from reanalysis.plots import RHO_GRID, rho_density

    draws = np.tanh(np.random.default_rng(5).normal(-0.4, 0.3, 4000))
    assert np.trapezoid(rho_density(draws), RHO_GRID) == pytest.approx(1.0, abs=2e-3)
