"""Tests for models.participant_kernel: the hand-written log densities and gradients of the Track B outcome and
alliance models.

References: PyMC's own log density and gradient of the same model compiled with the C backend (a code path
independent of the numba one the kernel is checked against at run time) on both cohort shapes of config.yaml
(PTSD: 3 alliance timepoints x 1 follow-up; depression: 2 x 4), with and without missing alliance, baseline and
follow-up cells, with normal and Student-t residuals; PyTensor's compiled graph called through
nutpie after ``with_data`` swaps in another prior set and another cohort's values. No MCMC.
"""

import numpy as np
import pytest
from conftest import COHORT_SPECS, CONFIG, assert_callback_agrees, assert_kernel_agrees, call_nutpie_logp, shared_values
from numpy.testing import assert_allclose

from models import compile as mc
from models.participant import (
    CohortData,
    alliance_data_values,
    alliance_prior_data,
    build_outcome_model,
    outcome_data_values,
    participant_prior_data,
    simulate_from_model,
    to_participant_prior,
)
from models.participant_kernel import (
    ALPHA,
    SIGMA_U,
    U_Z,
    AllianceLayout,
    OutcomeLayout,
    alliance_wrapper,
    digamma,
    wrapper,
)

PTSD, MDD = COHORT_SPECS["ptsd"], COHORT_SPECS["mdd"]
MISSING = {"n_missing_alliance": 4, "n_missing_baseline": 2, "n_missing_followup": 5}


def _data(spec, outcome, missing=None, seed=3):
    return CohortData.from_long(simulate_from_model(spec, 22, missing, seed=seed), spec, outcome)


def _model(data, residual="normal", prior="reference"):
    return build_outcome_model(data, to_participant_prior(CONFIG["priors"][prior]), residual)


def _assert_agree(data, residual, seed):
    model = _model(data, residual)
    names = [v.name for v in model.data_vars]
    assert_kernel_agrees(wrapper(OutcomeLayout.from_model(model, data), names), model, names, seed)


def test_kernel_digamma_is_the_tested_one():
    """The kernel calls models.compile.digamma_scalar under numba (tested against scipy in test_compile.py)."""
    x = np.geomspace(1e-4, 1e5, 50)
    assert_allclose([digamma(v) for v in x], [mc.digamma_scalar(v) for v in x], rtol=1e-15)


@pytest.mark.parametrize("residual", ["normal", "student_t"])
def test_kernel_matches_pymc_with_one_followup_and_no_missing_cell(residual):
    data = _data(PTSD, "CAPS-5")
    assert np.all(np.isfinite(data.alliance)) and data.followup.shape[1] == 1
    _assert_agree(data, residual, seed=1)


@pytest.mark.parametrize("residual", ["normal", "student_t"])
def test_kernel_matches_pymc_with_four_followups_and_missing_cells(residual):
    data = _data(MDD, "GRID-HAMD", MISSING)
    layout = OutcomeLayout.from_model(_model(data, residual), data)
    # every kind of missing cell is there, and the participant effect of more than one follow-up
    assert (layout.mis_index >= 0).sum() == 4 and (layout.b_mis_index >= 0).sum() == 2
    assert len(layout.y_i) == data.followup.size - 5 and layout.at[SIGMA_U] >= 0 and layout.at[U_Z] >= 0
    _assert_agree(data, residual, seed=2)


def test_kernel_matches_pymc_with_missing_cells_and_one_followup():
    data = _data(PTSD, "IES-R", MISSING, seed=5)
    assert OutcomeLayout.from_model(_model(data), data).at[SIGMA_U] == -1
    _assert_agree(data, "student_t", seed=3)


def test_nutpie_samples_with_the_kernel_and_with_data_reaches_it():
    """The C callback nutpie calls returns the kernel's values, for the compiled data and after with_data swaps in
    another prior set and another cohort with the same missing-data pattern (what SBC replicates do)."""
    if not mc.enable()["nutpie_patched"]:
        pytest.skip("nutpie version changed: no hand-written gradient (see models/compile.py)")
    data = _data(MDD, "GRID-HAMD", MISSING)
    model = _model(data, "student_t")
    compiled = mc.compile_nutpie(model, "handwritten")
    other = CohortData.from_long(simulate_from_model(MDD, 22, {**MISSING, "gamma_mean": 0.4}, seed=3), MDD, "GRID-HAMD")
    assert np.array_equal(np.isfinite(other.followup), np.isfinite(data.followup))  # same seed: same pattern
    sceptical = participant_prior_data(to_participant_prior(CONFIG["priors"]["sceptical"]), residual="student_t",
                                       n_followups=4)  # fmt: skip
    values = {k: v for k, v in outcome_data_values(other).items() if k in compiled.shared_data}
    swapped = mc.with_data(compiled, {**sceptical, **values})
    xs = 0.7 * np.random.default_rng(4).standard_normal((5, compiled.n_dim))
    seen = assert_callback_agrees(model, (compiled, swapped), xs)
    assert np.all(np.abs(np.subtract(seen[:5], seen[5:])) > 1.0)  # the swapped values did reach the kernel
    assert call_nutpie_logp(compiled, np.full(compiled.n_dim, np.nan))[0] == 3  # non-finite gradient: status 3


def test_a_kernel_out_of_step_with_the_model_stops_the_compile(tmp_path):
    """A kernel whose structure no longer matches the model (outcomes assigned to the wrong follow-ups) is rejected."""
    data = _data(MDD, "GRID-HAMD", MISSING)
    model = _model(data)
    names = [v.name for v in model.data_vars]
    good = OutcomeLayout.from_model(model, data)
    reference, n_dim = mc.logp_dlogp_reference(model, mode=None)  # PyMC's C backend
    shared = shared_values(model, names)
    kernel = wrapper(good, names)
    assert mc.check_against(kernel, reference, n_dim, shared) < 1e-9
    # the run-time check (log density against PyMC's, gradient against central differences) passes it, also with
    # Student-t residuals (digamma in the gradient)
    assert mc.verify_kernel(model, kernel, n_dim, shared, folder=tmp_path) is True
    t_model = _model(data, "student_t")
    t_names = [v.name for v in t_model.data_vars]
    t_kernel = wrapper(OutcomeLayout.from_model(t_model, data), t_names)
    t_dim = mc.logp_dlogp_reference(t_model, gradient=False)[1]
    assert mc.verify_kernel(t_model, t_kernel, t_dim, shared_values(t_model, t_names), folder=tmp_path) is True
    wrong = OutcomeLayout(**{**good.__dict__, "y_t": good.y_t[::-1].copy()})
    with pytest.raises(mc.KernelMismatch, match=r"\(models\.participant_kernel\).*sampler.gradient: pytensor"):
        mc.check_against(wrapper(wrong, names), kernel, n_dim, shared)


def test_a_model_the_kernel_does_not_describe_is_rejected():
    import pymc as pm

    data = _data(PTSD, "CAPS-5")
    model = _model(data)
    with model:
        pm.Normal("extra", 0.0, 1.0)
    with pytest.raises(mc.KernelMismatch, match="'extra'"):
        OutcomeLayout.from_model(model, data)
    names = [v.name for v in model.data_vars if v.name != "prior_tau"]
    with pytest.raises(mc.KernelMismatch, match="prior_tau"):
        wrapper(OutcomeLayout.from_model(_model(data), data), names)
    assert OutcomeLayout.from_model(_model(data), data).at[ALPHA] >= 0


# ---- the alliance model -------------------------------------------------------------------------------------------


def _alliance_model(data, prior="reference"):
    from models.participant import build_alliance_model

    return build_alliance_model(data, to_participant_prior(CONFIG["priors"][prior]))


@pytest.mark.parametrize(
    ("spec", "outcome", "missing"), [(PTSD, "CAPS-5", None), (MDD, "GRID-HAMD", MISSING)], ids=["ptsd", "mdd_missing"]
)
def test_alliance_kernel_matches_pymc(spec, outcome, missing):
    """Both cohort shapes (3 and 2 alliance timepoints); missing alliance cells are left out of the likelihood."""
    data = _data(spec, outcome, missing)
    model = _alliance_model(data)
    layout = AllianceLayout.from_model(model, data)
    assert len(layout.obs_i) == data.alliance.size - (4 if missing else 0)
    names = [v.name for v in model.data_vars]
    assert_kernel_agrees(alliance_wrapper(layout, names), model, names, seed=6)


def test_nutpie_samples_the_alliance_model_with_its_kernel_and_with_data_reaches_it():
    if not mc.enable()["nutpie_patched"]:
        pytest.skip("nutpie version changed: no hand-written gradient (see models/compile.py)")
    data = _data(MDD, "GRID-HAMD", MISSING)
    model = _alliance_model(data)
    compiled = mc.compile_nutpie(model, "handwritten")
    other = CohortData.from_long(simulate_from_model(MDD, 22, {**MISSING, "sigma_v": 1.2}, seed=3), MDD, "GRID-HAMD")
    sceptical = alliance_prior_data(to_participant_prior(CONFIG["priors"]["sceptical"]))
    swapped = mc.with_data(compiled, {**sceptical, **alliance_data_values(other)})
    xs = 0.7 * np.random.default_rng(5).standard_normal((5, compiled.n_dim))
    seen = assert_callback_agrees(model, (compiled, swapped), xs)
    assert np.all(np.abs(np.subtract(seen[:5], seen[5:])) > 1.0)  # the swapped values did reach the kernel


def test_an_alliance_kernel_out_of_step_with_the_model_is_rejected():
    import pymc as pm

    data = _data(PTSD, "CAPS-5", MISSING)
    model = _alliance_model(data)
    names = [v.name for v in model.data_vars]
    good = AllianceLayout.from_model(model, data)
    reference, n_dim = mc.logp_dlogp_reference(model, mode=None)
    shared = shared_values(model, names)
    assert mc.check_against(alliance_wrapper(good, names), reference, n_dim, shared) < 1e-9
    wrong = AllianceLayout(**{**good.__dict__, "obs_a": good.obs_a[::-1].copy()})  # cells at the wrong timepoints
    with pytest.raises(mc.KernelMismatch, match=r"\(models\.participant_kernel\)"):
        mc.check_against(alliance_wrapper(wrong, names), reference, n_dim, shared)
    with model:
        pm.Normal("extra", 0.0, 1.0)
    with pytest.raises(mc.KernelMismatch, match="'extra'"):
        AllianceLayout.from_model(model, data)
    with pytest.raises(mc.KernelMismatch, match="alliance_spread"):
        alliance_wrapper(good, [n for n in names if n != "alliance_spread"])
