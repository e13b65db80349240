"""reanalysis.diagnostics: the convergence gate on InferenceData built from numpy draws of known behaviour
(no sampling): iid chains pass; a shifted chain, divergences and a random-walk energy each fail."""

import json

import arviz as az
import numpy as np
import pytest
import yaml
from conftest import ROOT

from reanalysis.diagnostics import (
    DIAGNOSTIC_COLUMNS,
    Gate,
    GateFailure,
    RetryTest,
    check,
    enforce,
    judge,
    measure,
    per_parameter,
    read_measures,
    write_measures,
)  # fmt: skip

CHAINS, DRAWS = 4, 1000


def make_idata(seed=0, shift=0.0, n_divergent=0, energy=None, theta_coords=None):
    """mu (scalar) and theta (3-vector) iid N(0, 1); optionally chain 1 of theta[1] shifted by ``shift``."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((CHAINS, DRAWS, 3))
    theta[1, :, 1] += shift
    diverging = np.zeros((CHAINS, DRAWS), dtype=bool)
    diverging[rng.integers(0, CHAINS, n_divergent), rng.choice(DRAWS, n_divergent, replace=False)] = True
    if energy is None:
        energy = rng.standard_normal((CHAINS, DRAWS))
    kwargs = {}
    if theta_coords is not None:
        kwargs = {"coords": {"phase": theta_coords}, "dims": {"theta": ["phase"]}}
    return az.from_dict(
        posterior={"mu": rng.standard_normal((CHAINS, DRAWS)), "theta": theta},
        sample_stats={"diverging": diverging, "energy": energy},
        **kwargs,
    )


def bfmi_numpy(energy: np.ndarray) -> np.ndarray:
    """E-BFMI per chain: sum of squared energy transitions over the sum of squared deviations (Betancourt 2016)."""
    deviations = energy - energy.mean(axis=1, keepdims=True)
    return np.sum(np.diff(energy, axis=1) ** 2, axis=1) / np.sum(deviations**2, axis=1)


@pytest.fixture(scope="module")
def good():
    return make_idata(seed=1)


# ---------------------------------------------------------------- Gate
def test_gate_from_real_config():
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())["gate"]
    assert Gate.from_config(cfg) == Gate(
        r_hat_max=1.01, ess_bulk_min=400, ess_tail_min=400, divergences_max=0, ebfmi_min=0.3, on_fail="stop"
    )


def test_gate_from_partial_config_keeps_defaults_and_ignores_other_keys():
    gate = Gate.from_config({"r_hat_max": 1.05, "on_fail": "flag", "something_else": 1})
    assert (gate.r_hat_max, gate.on_fail) == (1.05, "flag")
    assert (gate.ess_bulk_min, gate.ess_tail_min, gate.divergences_max, gate.ebfmi_min) == (400, 400, 0, 0.3)


# ---------------------------------------------------------------- per_parameter
def test_per_parameter_one_row_per_scalar_labelled_by_coordinate(good):
    table = per_parameter(good)
    assert list(table.columns) == ["parameter", "constant", "r_hat", "ess_bulk", "ess_tail"]
    assert list(table["parameter"]) == ["mu", "theta[0]", "theta[1]", "theta[2]"]
    assert table["r_hat"].iloc[2] == pytest.approx(float(az.rhat(good.posterior["theta"].values[:, :, 1])))
    assert table["ess_bulk"].iloc[0] == pytest.approx(float(az.ess(good.posterior["mu"].values, method="bulk")))


def test_per_parameter_uses_named_coordinates():
    idata = make_idata(seed=2, theta_coords=["preparation", "mid-treatment", "post-dosing"])
    table = per_parameter(idata)
    assert list(table["parameter"]) == ["mu", "theta[preparation]", "theta[mid-treatment]", "theta[post-dosing]"]


def test_per_parameter_labels_two_dimensional_parameters():
    rng = np.random.default_rng(3)
    idata = az.from_dict(posterior={"x": rng.standard_normal((CHAINS, 200, 2, 3))})
    table = per_parameter(idata)
    assert table.shape == (6, 5)
    assert list(table["parameter"]) == ["x[0,0]", "x[0,1]", "x[0,2]", "x[1,0]", "x[1,1]", "x[1,2]"]


# ---------------------------------------------------------------- check
def test_well_mixed_iid_draws_pass(good):
    row = check(good, Gate(), "published", "reference")
    assert list(row) == DIAGNOSTIC_COLUMNS
    assert row["passed"] is True
    assert row["failures"] == ""
    assert (row["model"], row["prior_set"]) == ("published", "reference")
    assert row["n_draws"] == CHAINS * DRAWS
    assert row["divergences"] == 0
    assert row["max_r_hat"] < 1.01
    assert row["min_ess_bulk"] > 0.75 * CHAINS * DRAWS  # iid draws: ESS close to the number of draws
    assert row["min_ess_tail"] > 0.75 * CHAINS * DRAWS
    expected_ebfmi = bfmi_numpy(good.sample_stats["energy"].values).min()
    assert row["min_ebfmi"] == pytest.approx(expected_ebfmi, rel=1e-10)
    assert row["min_ebfmi"] == pytest.approx(2.0, abs=0.15)  # iid energy: E[(dE)^2] / var(E) = 2


def test_shifted_chain_fails_r_hat_and_names_the_parameter():
    idata = make_idata(seed=4, shift=3.0)
    row = check(idata, Gate(), "published", "sceptical")
    assert row["passed"] is False
    assert row["worst_r_hat_parameter"] == "theta[1]"
    expected = float(az.rhat(idata.posterior["theta"].values[:, :, 1]))
    assert row["max_r_hat"] == pytest.approx(expected)
    assert row["max_r_hat"] > 1.2
    assert f"R-hat {expected:.3f} > 1.01 for theta[1]" in row["failures"]
    assert row["worst_ess_bulk_parameter"] == "theta[1]"
    assert "ess_bulk" in row["failures"] and "< 400 for theta[1]" in row["failures"]


def test_shifted_chain_passes_a_lenient_gate():
    idata = make_idata(seed=4, shift=3.0)
    row = check(idata, Gate(r_hat_max=2.0, ess_bulk_min=0, ess_tail_min=0), "m", "p")
    assert row["passed"] is True
    assert row["failures"] == ""


def test_five_divergences_fail():
    idata = make_idata(seed=5, n_divergent=5)
    assert int(idata.sample_stats["diverging"].values.sum()) == 5
    row = check(idata, Gate(), "published", "reference")
    assert row["passed"] is False
    assert row["divergences"] == 5
    assert row["failures"] == "5 divergent transitions > 0"
    assert check(idata, Gate(divergences_max=5), "published", "reference")["passed"] is True


def test_low_ebfmi_fails():
    rng = np.random.default_rng(6)
    energy = np.cumsum(rng.standard_normal((CHAINS, DRAWS)), axis=1)  # random walk: tiny transitions vs variance
    idata = make_idata(seed=6, energy=energy)
    expected = bfmi_numpy(energy)
    assert np.allclose(az.bfmi(idata), expected)
    assert expected.max() < 0.3
    row = check(idata, Gate(), "published", "enthusiastic")
    assert row["passed"] is False
    assert row["min_ebfmi"] == pytest.approx(expected.min(), rel=1e-10)
    assert row["failures"] == f"E-BFMI {expected.min():.2f} < 0.3 in at least one chain"


def test_one_bad_chain_is_enough_for_ebfmi():
    rng = np.random.default_rng(7)
    energy = rng.standard_normal((CHAINS, DRAWS))
    energy[2] = np.cumsum(energy[2])
    row = check(make_idata(seed=7, energy=energy), Gate(), "m", "p")
    assert row["min_ebfmi"] == pytest.approx(bfmi_numpy(energy)[2], rel=1e-10)
    assert "E-BFMI" in row["failures"]


# ---------------------------------------------------------------- enforce
def test_enforce_stop_raises_naming_model_prior_and_parameter():
    row = check(make_idata(seed=4, shift=3.0), Gate(), "published_alt_n", "psychotherapy")
    with pytest.raises(GateFailure) as info:
        enforce(row, Gate(on_fail="stop"))
    message = str(info.value)
    assert "model 'published_alt_n'" in message
    assert "prior set 'psychotherapy'" in message
    assert "for theta[1]" in message
    assert "gate.on_fail: flag" in message


def test_enforce_flag_does_not_raise():
    row = check(make_idata(seed=4, shift=3.0), Gate(), "published", "reference")
    assert row["passed"] is False
    assert enforce(row, Gate(on_fail="flag")) is None


def test_enforce_passing_fit_does_not_raise(good):
    row = check(good, Gate(), "published", "reference")
    assert enforce(row, Gate(on_fail="stop")) is None


def test_parameter_with_nan_draws_fails_and_is_named():
    """NaN draws give NaN R-hat/ESS: the gate must report them, not skip them."""
    idata = make_idata(seed=8)
    bad = idata.posterior["theta"].values.copy()
    bad[0, :10, 2] = np.nan
    idata.posterior["theta"] = (("chain", "draw", "theta_dim_0"), bad)
    row = check(idata, Gate(), "published", "reference")
    assert row["passed"] is False
    assert row["worst_r_hat_parameter"] == "theta[2]"
    assert np.isnan(row["max_r_hat"])
    assert "R-hat nan > 1.01 for theta[2]" in row["failures"]


def test_exactly_constant_quantity_is_excluded_and_counted():
    """A quantity that is 0 by definition (change from the reference level) has no R-hat; it must not fail the
    gate, but a quantity constant within chains and different between them (a stuck sampler) still does."""
    rng = np.random.default_rng(3)
    theta = rng.normal(size=(4, 1000))
    change = np.zeros((4, 1000, 2))
    change[..., 1] = rng.normal(size=(4, 1000))
    ok = az.from_dict(
        posterior={"theta": theta, "change": change},
        sample_stats={"diverging": np.zeros((4, 1000), bool), "energy": rng.normal(size=(4, 1000))},
    )
    row = check(ok, Gate(), "m", "p")
    assert row["passed"] and row["n_constant"] == 1
    stuck = theta.copy()
    stuck[0] = 2.0  # one chain frozen at a value the others never take
    bad = az.from_dict(
        posterior={"theta": stuck},
        sample_stats={"diverging": np.zeros((4, 1000), bool), "energy": rng.normal(size=(4, 1000))},
    )
    row = check(bad, Gate(), "m", "p")
    assert not row["passed"] and row["n_constant"] == 0 and "theta" in row["failures"]


def test_participant_ids_never_appear_in_parameter_labels():
    rng = np.random.default_rng(4)
    idata = az.from_dict(
        posterior={"v_z": rng.normal(size=(4, 500, 3))},
        coords={"participant": ["P07", "P13", "P21"]},
        dims={"v_z": ["participant"]},
        sample_stats={"diverging": np.zeros((4, 500), bool), "energy": rng.normal(size=(4, 500))},
    )
    assert list(per_parameter(idata)["parameter"]) == ["v_z[#1]", "v_z[#2]", "v_z[#3]"]


def test_measures_written_by_the_fit_job_judge_like_the_draws(tmp_path):
    """The gate job judges the JSON the fit job wrote: same row as judging the draws, NaN and constants kept."""
    idata = make_idata(seed=8, n_divergent=2)
    theta = idata.posterior["theta"].values.copy()
    theta[0, :10, 2] = np.nan
    idata.posterior["theta"] = (("chain", "draw", "theta_dim_0"), theta)
    idata.posterior["zero"] = (("chain", "draw"), np.zeros((CHAINS, DRAWS)))
    path = tmp_path / "fit.convergence.json"
    write_measures(idata, str(path))
    for gate in (Gate(), Gate(r_hat_max=2.0, divergences_max=5)):
        from_json = judge(read_measures(str(path)), gate, "m", "p")
        direct = check(idata, gate, "m", "p")
        assert from_json.keys() == direct.keys()
        for key, value in direct.items():
            assert from_json[key] == value or (np.isnan(value) and np.isnan(from_json[key])), key
    assert from_json["n_constant"] == 1 and np.isnan(from_json["max_r_hat"])


def test_truncated_measures_file_names_itself(tmp_path):
    path = tmp_path / "x.convergence.json"
    path.write_text('{"parameters": [], "divergences": 0}')
    with pytest.raises(ValueError, match=r"x.convergence.json: convergence measures lack \['min_ebfmi', 'n_draws'\]"):
        read_measures(str(path))


def test_unreadable_measures_file_names_itself(tmp_path):
    path = tmp_path / "y.convergence.json"
    path.write_text('{"parameters": [')  # cut off mid-write
    with pytest.raises(ValueError, match=r"y.convergence.json: not a convergence-measures JSON"):
        read_measures(str(path))


def test_verdict_for_the_sampler_retry_lists_the_gate_failures():
    """The retry test of models.sampling sees exactly the failures the gate job would report."""
    bad = make_idata(seed=9, shift=1.0, n_divergent=3)
    failures = RetryTest(Gate())(bad)
    assert failures and "; ".join(failures) == check(bad, Gate(), "m", "p")["failures"]
    assert RetryTest(Gate())(make_idata(seed=10)) == []


def test_retry_test_keeps_the_measures_the_fit_job_writes(tmp_path):
    """The fit job writes the measures the retry test took of the kept draws: the same file as measuring again."""
    idata = make_idata(seed=12, n_divergent=1)
    test = RetryTest(Gate())
    test(make_idata(seed=13))  # a first attempt
    test(idata)  # the kept one
    idata.attrs["sampler_attempts"] = json.dumps([{"draws": 1000, "failures": ["x"]}, {"draws": 4000, "failures": []}])
    reused, fresh = tmp_path / "reused.json", tmp_path / "fresh.json"
    write_measures(idata, str(reused), test.measured)
    write_measures(idata, str(fresh))
    assert reused.read_text() == fresh.read_text()
    assert len(read_measures(str(reused))["attempts"]) == 2


def test_attempts_recorded_by_the_sampler_reach_the_diagnostics_row(tmp_path):
    idata = make_idata(seed=11)
    assert judge(measure(idata), Gate(), "m", "p")["attempts"] == 1  # no record: sampled once
    record = [{"draws": 1000, "failures": ["R-hat 1.02 > 1.01 for mu"]}, {"draws": 4000, "failures": []}]
    idata.attrs["sampler_attempts"] = json.dumps(record)
    path = tmp_path / "fit.convergence.json"
    write_measures(idata, str(path))
    row = judge(read_measures(str(path)), Gate(), "m", "p")
    assert row["attempts"] == 2 and row["passed"]
