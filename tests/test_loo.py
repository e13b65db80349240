"""PSIS-LOO helpers: a planted outlier gets the high Pareto k (exact conjugate draws, no MCMC), elpd of several
observed variables is the sum of theirs, and az.compare prefers Student-t residuals on heavy-tailed data."""

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import stats

from models.loo import compare, loo_table, pointwise_idata


def conjugate_idata(y, sigma=1.0, prior_sd=10.0, seed=0, n=(4, 1000)):
    """Exact posterior draws of a normal mean (known sigma) with the pointwise log-likelihood of ``y``."""
    precision = 1 / prior_sd**2 + y.size / sigma**2
    mean, sd = y.sum() / sigma**2 / precision, precision**-0.5
    mu = np.random.default_rng(seed).normal(mean, sd, n)
    return az.from_dict(
        posterior={"mu": mu},
        log_likelihood={"y": stats.norm.logpdf(y, mu[..., None], sigma)},
        coords={"obs": [f"o{i}" for i in range(y.size)]},
        dims={"y": ["obs"]},
    )


def test_planted_outlier_has_the_high_pareto_k():
    y = np.random.default_rng(1).normal(0.0, 1.0, 20)
    y[7] = 12.0  # 12 SDs out; with sigma known, leaving it out moves the posterior by ~12/20 = 2.7 posterior SDs
    summary, pointwise = loo_table(conjugate_idata(y))
    assert pointwise["pareto_k"].idxmax() == 7
    assert pointwise.loc[7, "pareto_k"] > 0.7 and pointwise.loc[7, "high_k"]
    assert summary["n_high_k"] == int(pointwise["high_k"].sum()) >= 1 and summary["warning"]
    assert pointwise["label"].tolist()[7] == "o7"  # coordinate labels by default
    assert summary["elpd_loo"] == pytest.approx(pointwise["elpd_loo_i"].sum())


def test_clean_data_has_no_high_k_and_elpd_matches_the_exact_loo():
    y = np.random.default_rng(2).normal(0.0, 1.0, 20)
    summary, pointwise = loo_table(conjugate_idata(y, n=(4, 2000)), obs_labels=[f"row {i}" for i in range(20)])
    assert summary["n_high_k"] == 0 and not summary["warning"]
    assert pointwise["label"].iloc[0] == "row 0"

    def predictive(y_i, rest):  # posterior predictive density of y_i given ``rest``: N(mean, sqrt(1 + var))
        precision = 1 / 10.0**2 + rest.size
        return stats.norm.logpdf(y_i, rest.sum() / precision, np.sqrt(1 + 1 / precision))

    elpd_exact = sum(predictive(y[i], np.delete(y, i)) for i in range(y.size))
    lpd_exact = sum(predictive(y[i], y) for i in range(y.size))
    assert summary["elpd_loo"] == pytest.approx(elpd_exact, abs=0.05)
    assert summary["p_loo"] == pytest.approx(lpd_exact - elpd_exact, abs=0.05)


def test_several_observed_variables_pick_or_concatenate():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 500, 5)), rng.normal(size=(2, 500, 3))
    idata = az.from_dict(
        posterior={"mu": rng.normal(size=(2, 500))},
        log_likelihood={"x_observed": a - 1.0, "y": b - 2.0},
        dims={"x_observed": ["alliance_time"], "y": ["y_obs"]},
        coords={"alliance_time": list("abcde"), "y_obs": ["S001:week_4", "S002:week_4", "S007:week_4"]},
    )
    both, pointwise = loo_table(idata)
    only_y, _ = loo_table(idata, var_name="y")
    only_x, _ = loo_table(idata, var_name="x_observed")
    assert both["n_data_points"] == 8
    assert both["elpd_loo"] == pytest.approx(only_x["elpd_loo"] + only_y["elpd_loo"])
    # participant dims (y_obs) are labelled by position: no participant id reaches a table or figure
    assert pointwise["label"].tolist()[:1] + pointwise["label"].tolist()[-1:] == ["x_observed[a]", "y[#3]"]
    assert loo_table(idata, var_name="y")[1]["label"].tolist() == ["#1", "#2", "#3"]
    with pytest.raises(ValueError, match="no variable 'z'"):
        pointwise_idata(idata, "z")


@pytest.fixture(scope="module")
def heavy_tailed_fits():
    y = stats.t.rvs(df=2, loc=1.0, scale=1.0, size=100, random_state=np.random.default_rng(4))
    fits = {}
    for name in ("normal", "student_t"):
        with pm.Model():
            mu = pm.Normal("mu", 0.0, 5.0)
            sigma = pm.HalfNormal("sigma", 5.0)
            if name == "normal":
                pm.Normal("y", mu, sigma, observed=y)
            else:
                pm.StudentT("y", nu=2.0, mu=mu, sigma=sigma, observed=y)
            fits[name] = pm.sample(
                draws=1000, tune=500, chains=2, cores=1, random_seed=5, progressbar=False,
                compute_convergence_checks=False, idata_kwargs={"log_likelihood": True},
            )  # fmt: skip
    return y, fits


def test_compare_prefers_student_t_on_heavy_tailed_data(heavy_tailed_fits):
    y, fits = heavy_tailed_fits
    table = compare(fits)
    best, other = table.iloc[0], table.iloc[1]
    assert best["model"] == "student_t" and best["rank"] == 0 and best["elpd_diff"] == 0
    assert other["elpd_diff"] > 2 * other["dse"]  # a clear difference, not noise
    assert best["weight"] > 0.9 and table["weight"].sum() == pytest.approx(1.0)
    # the normal model's most influential point is the most extreme observation
    _, pointwise = loo_table(fits["normal"])
    assert pointwise["pareto_k"].idxmax() == int(np.argmax(np.abs(y - np.median(y))))


def test_compare_needs_matching_observations():
    y = np.zeros(5)
    with pytest.raises(ValueError, match="different numbers of observations"):
        compare({"a": conjugate_idata(y), "b": conjugate_idata(np.zeros(6))})
    with pytest.raises(ValueError, match="at least two"):
        compare({"a": conjugate_idata(y)})


def test_given_reff_gives_what_arviz_computes_itself(heavy_tailed_fits):
    """The pipeline passes reff (reanalysis.convergence.relative_ess) instead of letting ArviZ compute it."""
    from reanalysis.convergence import relative_ess

    _, fits = heavy_tailed_fits
    reff = {name: relative_ess(idata.posterior) for name, idata in fits.items()}
    summary, pointwise = loo_table(fits["normal"])
    given_summary, given_pointwise = loo_table(fits["normal"], reff=reff["normal"])
    assert given_summary == pytest.approx(summary, rel=1e-12)
    pd.testing.assert_frame_equal(given_pointwise, pointwise, rtol=1e-12)
    pd.testing.assert_frame_equal(compare(fits, reff=reff), compare(fits), rtol=1e-12)
    assert loo_table(fits["normal"], reff=0.2)[0]["elpd_loo"] != summary["elpd_loo"]  # reff is used
