"""models.all_draws.fold_variadic: n-ary additions and products run as numpy's binary ufuncs give the very values
PyTensor's per-element Python implementation gives, on the graphs the pipeline runs (log densities, prior draws)."""

import numpy as np
import pytest
from pymc.model.transform.conditioning import remove_value_transforms
from test_log_density import MODELS, as_posterior

import models.log_density as ld
import models.sampling as sampling
from models.all_draws import fold_variadic, stacked


@pytest.mark.parametrize("name", MODELS)
def test_folded_log_densities_are_the_same_bits(name):
    model = MODELS[name]()
    umodel = remove_value_transforms(model)
    fn, _ = ld._build(umodel)
    free = list(umodel.free_RVs)
    inputs = stacked(as_posterior(model, draws=200).posterior, [rv.name for rv in free], [rv.dtype for rv in free])
    before = [np.array(x) for x in fn(*inputs)]
    changed = fold_variadic(fn)
    after = fn(*inputs)
    if name == "outcome_with_missing_cells":  # the model whose log density has one: the test is not vacuous
        assert changed >= 1
    for x, y in zip(before, after, strict=True):
        assert x.dtype == np.asarray(y).dtype and np.array_equal(x, y, equal_nan=True)


def test_folded_prior_draws_are_the_same_bits(monkeypatch):
    model = MODELS["track_a"]()  # its forward-sampling graph has n-ary additions
    counts = []
    monkeypatch.setattr(sampling, "fold_variadic", lambda fn: counts.append(fold_variadic(fn)))
    folded = sampling.sample_prior(model, 300, seed=11).prior
    assert counts == [2]
    monkeypatch.setattr(sampling, "fold_variadic", lambda fn: 0)
    unfolded = sampling.sample_prior(model, 300, seed=11).prior
    for name in unfolded.data_vars:
        np.testing.assert_array_equal(folded[name].values, unfolded[name].values, err_msg=name)


def test_fold_is_a_left_fold_over_broadcast_arrays():
    import pytensor
    import pytensor.tensor as pt

    a, b, c = pt.dvector("a"), pt.dmatrix("b"), pt.dscalar("c")
    fn = pytensor.function([a, b, c], [a + b + c, a * b * c], mode="FAST_COMPILE")
    assert fold_variadic(fn) == 2
    x, y, z = np.array([0.1, 0.2]), np.array([[1e16, -3.0], [2.5, 7.0]]), 1.0
    s, p = fn(x, y, z)
    np.testing.assert_array_equal(s, (x + y) + z)  # 0.1 + 1e16 + 1.0: the order shows in the bits
    np.testing.assert_array_equal(p, (x * y) * z)
