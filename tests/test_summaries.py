"""reanalysis.summaries: posterior summaries and threshold probabilities against numpy computations on
InferenceData built from draws of known distribution (no sampling).

The fixture carries the variables every model of the project writes (rho_pooled, rho_<group>, rho_cell,
rho_row, mu, sigma_<group>): reported_variables lists rho_pooled, rho_cell, rho_row and mu unconditionally.
"""

import arviz as az
import numpy as np
import pytest

from reanalysis.summaries import (
    CONTRAST_COLUMNS,
    HDI_PROB,
    SUMMARY_COLUMNS,
    THRESHOLD_COLUMNS,
    exceeds,
    level_contrasts,
    posterior_summary,
    reported_variables,
    threshold_probabilities,
)

CHAINS, DRAWS = 4, 1000
PHASES = ["preparation", "post-dosing"]
ROWS = ["L01", "L05"]
THRESHOLDS = [
    {"label": "P(rho < 0)", "kind": "below", "value": 0.0},
    {"label": "P(|rho| > 0.28)", "kind": "abs_above", "value": 0.28},
    {"label": "P(rho > -0.1)", "kind": "above", "value": -0.1},
]


def ar1(rng, phi: float, shape) -> np.ndarray:
    """Stationary AR(1) chains with unit marginal variance along axis 1 (draw)."""
    x = np.empty(shape)
    eps = rng.standard_normal(shape) * np.sqrt(1 - phi**2)
    x[:, 0] = rng.standard_normal(shape[:1])
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + eps[:, t]
    return x


@pytest.fixture(scope="module")
def idata():
    rng = np.random.default_rng(20241122)
    mu = -0.3 + 0.2 * rng.standard_normal((CHAINS, DRAWS))
    phase = np.stack(
        [-0.5 + 0.2 * rng.standard_normal((CHAINS, DRAWS)), -0.1 + 0.3 * ar1(rng, 0.9, (CHAINS, DRAWS))], -1
    )
    row = -0.4 + 0.3 * rng.standard_normal((CHAINS, DRAWS, 2))
    return az.from_dict(
        posterior={
            "mu": mu,
            "rho_pooled": np.tanh(mu),
            "rho_alliance_phase": np.tanh(phase),
            "rho_cell": np.tanh(row),
            "rho_row": np.tanh(row + 0.1 * rng.standard_normal((CHAINS, DRAWS, 2))),
            "sigma_study": np.abs(0.2 * rng.standard_normal((CHAINS, DRAWS))),
            "a_study": rng.standard_normal((CHAINS, DRAWS)),  # raw offsets are not reported
        },
        coords={"alliance_phase": PHASES, "row": ROWS},
        dims={"rho_alliance_phase": ["alliance_phase"], "rho_cell": ["row"], "rho_row": ["row"]},
    )


@pytest.fixture(scope="module")
def summary(idata):
    labels = {"L01": "Levin2024, preparation", "L05": "Levin2024, post-dosing"}
    return posterior_summary(idata, "published", "reference", labels).set_index("parameter")


@pytest.fixture(scope="module")
def probabilities(idata):
    return threshold_probabilities(idata, THRESHOLDS, "published", "reference")


def flat(idata, var, level=None):
    da = idata.posterior[var]
    if level is not None:
        (dim,) = [d for d in da.dims if d not in ("chain", "draw")]
        da = da.sel({dim: level})
    return da.values.reshape(-1)


def hdi_numpy(x: np.ndarray, prob: float) -> tuple[float, float]:
    """Shortest interval spanning floor(prob * n) + 1 sorted draws."""
    s = np.sort(x)
    m = int(np.floor(prob * s.size))
    widths = s[m:] - s[: s.size - m]
    i = int(np.argmin(widths))
    return s[i], s[i + m]


# ---------------------------------------------------------------- reported variables
def test_reported_variables_order(idata):
    assert reported_variables(idata) == ["rho_pooled", "rho_alliance_phase", "rho_cell", "rho_row", "mu", "sigma_study"]


# ---------------------------------------------------------------- posterior_summary
def test_summary_shape_and_labels(summary):
    assert list(summary.columns) == [c for c in SUMMARY_COLUMNS if c != "parameter"]
    assert summary.shape == (9, len(SUMMARY_COLUMNS) - 1)
    assert list(summary.index) == [
        "rho_pooled",
        "rho_alliance_phase[preparation]",
        "rho_alliance_phase[post-dosing]",
        "rho_cell[L01]",
        "rho_cell[L05]",
        "rho_row[L01]",
        "rho_row[L05]",
        "mu",
        "sigma_study",
    ]
    assert summary.loc["rho_pooled", "labels"] == ""
    assert summary.loc["rho_alliance_phase[post-dosing]", "labels"] == "alliance_phase=post-dosing"
    assert summary.loc["rho_cell[L01]", "labels"] == "row=L01 (Levin2024, preparation)"
    assert summary.loc["rho_row[L05]", "labels"] == "row=L05 (Levin2024, post-dosing)"
    assert set(summary["model"]) == {"published"} and set(summary["prior_set"]) == {"reference"}


@pytest.mark.parametrize(
    ("parameter", "var", "level"),
    [
        ("rho_pooled", "rho_pooled", None),
        ("rho_alliance_phase[preparation]", "rho_alliance_phase", "preparation"),
        ("rho_alliance_phase[post-dosing]", "rho_alliance_phase", "post-dosing"),
        ("rho_row[L05]", "rho_row", "L05"),
    ],
)
def test_summary_matches_numpy_on_flat_draws(idata, summary, parameter, var, level):
    x = flat(idata, var, level)
    assert x.size == CHAINS * DRAWS
    s = summary.loc[parameter]
    assert s["mean"] == pytest.approx(np.mean(x), rel=1e-12)
    assert s["sd"] == pytest.approx(np.std(x, ddof=1), rel=1e-12)
    assert s["median"] == pytest.approx(np.median(x), rel=1e-12)
    low, high = hdi_numpy(x, HDI_PROB)
    assert (s["hdi_low"], s["hdi_high"]) == pytest.approx((low, high), rel=1e-12)
    inside = np.mean((x >= s["hdi_low"]) & (x <= s["hdi_high"]))
    assert inside == pytest.approx(0.94, abs=1 / x.size + 1e-12)


def test_summary_hdi_is_shorter_than_equal_tailed_interval_for_skewed_draws(idata, summary):
    x = flat(idata, "sigma_study")  # half-normal: the HDI starts at the lower edge
    s = summary.loc["sigma_study"]
    q_low, q_high = np.quantile(x, [0.03, 0.97])
    assert s["hdi_high"] - s["hdi_low"] < q_high - q_low
    assert s["hdi_low"] < q_low


def test_summary_rhat_and_ess(idata, summary):
    s = summary.loc["rho_pooled"]
    draws = idata.posterior["rho_pooled"].values
    assert s["r_hat"] == pytest.approx(float(az.rhat(draws)))
    assert s["ess_bulk"] == pytest.approx(float(az.ess(draws, method="bulk")))
    assert abs(s["r_hat"] - 1) < 0.01
    assert s["ess_bulk"] > 0.75 * CHAINS * DRAWS  # iid
    # AR(1) with phi = .9: ESS ~ N (1 - phi) / (1 + phi) ~ 210, i.e. far below N
    assert summary.loc["rho_alliance_phase[post-dosing]", "ess_bulk"] < 0.15 * CHAINS * DRAWS


# ---------------------------------------------------------------- threshold_probabilities
def test_threshold_table_shape(probabilities):
    assert list(probabilities.columns) == THRESHOLD_COLUMNS
    # pooled + 2 phases (rho_cell, rho_row are not thresholded), times 3 thresholds
    assert probabilities.shape == (3 * len(THRESHOLDS), len(THRESHOLD_COLUMNS))
    assert list(dict.fromkeys(probabilities["parameter"])) == [
        "rho_pooled",
        "rho_alliance_phase[preparation]",
        "rho_alliance_phase[post-dosing]",
    ]
    assert list(probabilities["threshold"][:3]) == [t["label"] for t in THRESHOLDS]


@pytest.mark.parametrize(
    ("parameter", "var", "level"),
    [
        ("rho_pooled", "rho_pooled", None),
        ("rho_alliance_phase[preparation]", "rho_alliance_phase", "preparation"),
        ("rho_alliance_phase[post-dosing]", "rho_alliance_phase", "post-dosing"),
    ],
)
def test_probabilities_match_numpy(idata, probabilities, parameter, var, level):
    x = flat(idata, var, level)
    rows = probabilities[probabilities["parameter"] == parameter].set_index("kind")
    assert rows.loc["below", "probability"] == pytest.approx(np.mean(x < 0), abs=1e-15)
    assert rows.loc["abs_above", "probability"] == pytest.approx(np.mean(np.abs(x) > 0.28), abs=1e-15)
    assert rows.loc["above", "probability"] == pytest.approx(np.mean(x > -0.1), abs=1e-15)
    assert 0 < rows.loc["below", "probability"] < 1  # the cases are informative, not 0 or 1


def test_pooled_probability_near_its_known_value(probabilities):
    """rho_pooled = tanh(N(-.3, .2)): P(rho < 0) = Phi(1.5) = .933."""
    p = probabilities.set_index(["parameter", "kind"]).loc[("rho_pooled", "below"), "probability"]
    assert p == pytest.approx(0.9332, abs=0.02)


@pytest.mark.parametrize(
    ("parameter", "var", "level", "iid"),
    [
        ("rho_pooled", "rho_pooled", None, True),
        ("rho_alliance_phase[post-dosing]", "rho_alliance_phase", "post-dosing", False),
    ],
)
def test_mcse_uses_effective_sample_size(idata, probabilities, parameter, var, level, iid):
    rows = probabilities[probabilities["parameter"] == parameter].set_index("kind")
    p, mcse = rows.loc["below", "probability"], rows.loc["below", "mcse"]
    hit = (idata.posterior[var].sel({"alliance_phase": level}) if level else idata.posterior[var]).values < 0
    ess = float(az.ess(hit.astype(float)))
    assert mcse > 0
    assert mcse == pytest.approx(np.sqrt(p * (1 - p) / ess), rel=1e-10)
    naive = np.sqrt(p * (1 - p) / (CHAINS * DRAWS))
    if iid:
        assert mcse == pytest.approx(naive, rel=0.15)
    else:
        assert mcse > 2 * naive  # autocorrelated draws: fewer effective draws, larger error


def test_certain_threshold_has_zero_mcse(idata):
    out = threshold_probabilities(idata, [{"label": "P(rho < -1)", "kind": "below", "value": -1.0}], "m", "p")
    assert list(out["probability"]) == [0.0, 0.0, 0.0]
    assert list(out["mcse"]) == [0.0, 0.0, 0.0]


def test_exceeds():
    x = np.array([-0.5, -0.1, 0.0, 0.3])
    assert exceeds(x, "below", 0.0).tolist() == [True, True, False, False]
    assert exceeds(x, "above", 0.0).tolist() == [False, False, False, True]
    assert exceeds(x, "abs_above", 0.28).tolist() == [True, False, False, True]


def test_unknown_threshold_kind_raises(idata):
    with pytest.raises(ValueError, match=r"threshold kind 'between'; expected below, above or abs_above"):
        exceeds(np.zeros(3), "between", 0.0)
    with pytest.raises(ValueError, match=r"threshold kind 'between'"):
        threshold_probabilities(idata, [{"label": "x", "kind": "between", "value": 0.1}], "m", "p")


def test_level_contrasts_match_numpy(idata):
    out = level_contrasts(idata, "alliance_phase", "published", "reference")
    assert list(out.columns) == CONTRAST_COLUMNS
    assert out.shape == (1, len(CONTRAST_COLUMNS))
    diff = flat(idata, "rho_alliance_phase", "post-dosing") - flat(idata, "rho_alliance_phase", "preparation")
    row = out.iloc[0]
    assert row["contrast"] == "post-dosing − preparation"
    assert row["median"] == pytest.approx(np.median(diff), rel=1e-12)
    assert (row["hdi_low"], row["hdi_high"]) == pytest.approx(hdi_numpy(diff, HDI_PROB), rel=1e-12)
    assert row["p_more_negative"] == pytest.approx(np.mean(diff < 0), abs=1e-15)


# ---------------------------------------------------------------- one fit's tables (the check_fit job)


def _with_attrs(idata, **attrs):
    copy = idata.copy()
    copy.attrs = dict(attrs)
    return copy


def test_fit_tables_of_a_track_a_fit_are_the_tables_summarise_joins(idata):
    import pandas as pd

    from models.predictive import published_ppc
    from reanalysis.summaries import FIT_TABLES, fit_tables

    fit = _with_attrs(idata, model="published", prior_set="sceptical")
    labels = {"L01": "Levin2024, preparation", "L05": "Levin2024, post-dosing"}
    obs = pd.DataFrame({
        "row_id": ROWS, "statistic": ["r", "p"], "kind": ["point", "interval"], "r_obs": [-0.3, float("nan")],
        "n_eff": [20.0, 20.0], "r_lo1": [0.0, -0.6], "r_hi1": [0.0, -0.1], "r_lo2": [0.0, 0.0], "r_hi2": [0.0, 0.0],
    })  # fmt: skip
    tables = fit_tables(fit, labels, obs, THRESHOLDS, [], seed=5)
    assert {name: list(t.columns) for name, t in tables.items()} == FIT_TABLES
    expected = posterior_summary(idata, "published", "sceptical", labels).assign(track="published")
    pd.testing.assert_frame_equal(tables["posterior_summary"], expected)
    probs = threshold_probabilities(idata, THRESHOLDS, "published", "sceptical").assign(track="published")
    pd.testing.assert_frame_equal(tables["threshold_probabilities"], probs)
    pd.testing.assert_frame_equal(
        tables["contrasts"], level_contrasts(idata, "alliance_phase", "published", "sceptical")
    )
    draws = idata.posterior["rho_row"].stack(s=("chain", "draw")).transpose("row", "s").values
    pd.testing.assert_frame_equal(tables["ppc"], published_ppc(draws, obs, 5, "published", "sceptical"))
    assert len(tables["ppc"]) == 2 and len(tables["contrasts"]) == 1


def test_fit_tables_of_a_track_b_fit_keep_the_track_a_tables_empty():
    import pandas as pd

    from reanalysis.summaries import FIT_TABLES, fit_tables, participant_threshold_probabilities

    rng = np.random.default_rng(7)
    fit = az.from_dict(
        posterior={"slope_mean_points": rng.normal(-2, 1, (CHAINS, DRAWS)),
                   "slope_points": rng.normal(-2, 1, (CHAINS, DRAWS, 2))},
        dims={"slope_points": ["followup"]}, coords={"followup": ["fu1", "fu2"]},
    )  # fmt: skip
    fit.attrs = {"model": "ptsd_outcome_CAPS-5", "prior_set": "reference", "track": "participant", "mcid": 10.0}
    cut = [{"label": "P(slope < -MCID/2)", "mcid_fraction": -0.5}]
    tables = fit_tables(fit, {}, None, THRESHOLDS, cut, seed=5)
    assert {name: list(t.columns) for name, t in tables.items()} == FIT_TABLES
    expected = participant_threshold_probabilities(fit, cut, 10.0, "ptsd_outcome_CAPS-5", "reference")
    pd.testing.assert_frame_equal(tables["threshold_probabilities"], expected.assign(track="participant"))
    assert (tables["threshold_probabilities"]["value"] == -5.0).all() and len(expected) == 3  # mean + 2 cells
    assert tables["contrasts"].empty and tables["ppc"].empty
