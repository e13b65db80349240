"""Tests for models.priors: 95% rho intervals (config) -> normal priors on z = atanh(rho)."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose
from scipy import stats

from models.priors import ZPrior, to_z_prior

CONFIG = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
GROUPING = CONFIG["published"]["grouping"]
HET = {"study": 0.2, "alliance_phase": 0.15, "outcome_timepoint": 0.1, "outcome": 0.1, "residual": 0.1}


def prior_set(lo, hi, het=None):
    return {"rho": {"lower95": lo, "upper95": hi}, "heterogeneity": dict(HET if het is None else het)}


@pytest.mark.parametrize("name", sorted(CONFIG["priors"]))
def test_config_prior_sets_reproduce_their_interval(name):
    ps = CONFIG["priors"][name]
    zp = to_z_prior(ps, GROUPING)
    assert isinstance(zp, ZPrior)
    q = stats.norm.ppf([0.025, 0.975], loc=zp.mu_mean, scale=zp.mu_sd)
    assert_allclose(np.tanh(q), [ps["rho"]["lower95"], ps["rho"]["upper95"]], atol=1e-12)
    # median of rho = tanh(mean); tanh is monotone so the normal's median maps to rho's median
    assert zp.rho_median == pytest.approx(np.tanh(stats.norm.median(zp.mu_mean, zp.mu_sd)), abs=1e-14)
    assert zp.sigma_scale == {g: ps["heterogeneity"][g] for g in [*GROUPING, "residual"]}


def test_reference_prior_closed_form():
    zp = to_z_prior(CONFIG["priors"]["reference"], GROUPING)
    assert zp.mu_mean == pytest.approx(0.0, abs=1e-15)
    assert zp.mu_sd == pytest.approx(np.arctanh(0.8) / 1.959963984540054, rel=1e-12)
    assert zp.rho_median == pytest.approx(0.0, abs=1e-15)


def test_asymmetric_interval_monte_carlo():
    zp = to_z_prior(prior_set(-0.75, -0.2), GROUPING)
    rng = np.random.default_rng(3)
    rho = np.tanh(rng.normal(zp.mu_mean, zp.mu_sd, size=200_000))
    # MC error of a 2.5% quantile with 2e5 draws is ~0.002 in rho here
    assert_allclose(np.quantile(rho, [0.025, 0.5, 0.975]), [-0.75, zp.rho_median, -0.2], atol=0.008)
    assert np.mean(rho < -0.75) == pytest.approx(0.025, abs=0.002)


def test_grouping_subset_keeps_only_needed_scales():
    zp = to_z_prior(prior_set(-0.3, 0.3), ["study"])
    assert zp.sigma_scale == {"study": 0.2, "residual": 0.1}


@pytest.mark.parametrize(("lo", "hi"), [(0.5, -0.5), (0.3, 0.3), (-1.0, 0.5), (-0.5, 1.0), (-1.2, 0.1)])
def test_bad_interval_message_names_the_keys(lo, hi):
    expected = f"rho.lower95={lo} and rho.upper95={hi}: expected -1 < lower95 < upper95 < 1"
    with pytest.raises(ValueError, match=re.escape(expected)):
        to_z_prior(prior_set(lo, hi), GROUPING)


@pytest.mark.parametrize("missing", ["outcome", "study", "residual"])
def test_missing_heterogeneity_key_is_named(missing):
    het = {k: v for k, v in HET.items() if k != missing}
    with pytest.raises(ValueError, match=re.escape(f"heterogeneity has no scale for ['{missing}']")):
        to_z_prior(prior_set(-0.5, 0.5, het), GROUPING)


def test_unknown_grouping_term_is_named():
    with pytest.raises(ValueError, match=re.escape("['site']")):
        to_z_prior(prior_set(-0.5, 0.5), [*GROUPING, "site"])
