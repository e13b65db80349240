"""Tests for models.compile: the cacheable erfcx and digamma, the lighter nutpie wrappers and data swapping.

References: scipy.special.erfcx and digamma; PyTensor's own (C backend) log density and gradient of the same model;
nutpie's posterior for a conjugate normal model against its closed form. No timing is tested here
(speed is measured in bench/).
"""

import numpy as np
import pymc as pm
import pytest
from conftest import COHORT_SPECS, CONFIG, published_observations, shared_values
from numpy.testing import assert_allclose
from scipy import special

from models import compile as mc
from models.priors import to_z_prior
from models.published import PublishedData, build_published_model


def test_erfcx_matches_scipy_over_its_range():
    x = np.concatenate([np.linspace(-26, 30, 4001), [24.999, 25.0, 25.001, 40.0, 1e3, 1e8]])
    ours = np.array([mc.erfcx_scalar(v) for v in x])  # plain Python; the graph uses the same code under numba
    assert_allclose(ours, special.erfcx(x), rtol=1e-12)
    assert mc.erfcx_scalar(-30.0) == np.inf  # overflows where the true value exceeds float64 too


def test_digamma_matches_scipy_over_its_range():
    x = np.concatenate(
        [np.geomspace(1e-300, 1e300, 2001), -np.geomspace(1e-6, 1e6, 2001) + 0.37, [0.5, 1.0, 9.99, 10.0]]
    )
    ours = np.array([mc.digamma_scalar(v) for v in x])  # plain Python; graph and kernel use it under numba
    assert_allclose(ours, special.digamma(x), rtol=1e-12, atol=1e-12)
    for v in (0.0, -0.0, -1.0, -7.0, np.inf, -np.inf, np.nan):  # poles and limits as scipy's
        assert_allclose(mc.digamma_scalar(v), special.digamma(v))


def _model():
    grouping = CONFIG["published"]["grouping"]
    data = PublishedData.from_observations(published_observations(), grouping)
    return build_published_model(data, to_z_prior(CONFIG["priors"]["reference"], grouping), "fisher_z")


def _student_t_model():
    from models.participant import CohortData, build_outcome_model, simulate_from_model, to_participant_prior

    spec = COHORT_SPECS["ptsd"]
    data = CohortData.from_long(simulate_from_model(spec, 22, {}, seed=1), spec, "CAPS-5")
    return build_outcome_model(data, to_participant_prior(CONFIG["priors"]["reference"]), "student_t")


@pytest.mark.parametrize("build", [_model, _student_t_model], ids=["track_a", "student_t"])
def test_graph_is_cacheable_on_disk(build):
    """One uncacheable Op (scipy's erfcx or digamma by function pointer) used to make the whole graph uncacheable:
    Track A's censored rows, the Student-t likelihood's gradient."""
    from numba.core.caching import NullCache
    from nutpie.compile_pymc import _make_functions

    mc.enable()
    model = build()
    logp_fn = _make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=True,
        pymc_initial_point_fn=pm.initial_point.make_initial_point_fn(model=model), var_names=None,
    )[2]  # fmt: skip
    assert not isinstance(logp_fn.vm.jit_fn._cache, NullCache)


def test_patched_c_callback_returns_the_graphs_logp_and_gradient():
    """The replaced wrapper only copies results; compare it with the same graph called from Python."""
    import ctypes

    model = _model()
    compiled = mc.compile_nutpie(model, "pytensor")  # the hand-written kernel: tests/test_published_kernel.py
    assert mc.enable()["nutpie_patched"], "nutpie version changed: re-check models/compile.py"
    callback = compiled.compiled_logp_func.ctypes
    user_data = ctypes.c_void_p(compiled.user_data.ctypes.data)
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = 0.5 * rng.standard_normal(compiled.n_dim)
        grad, logp = np.zeros(compiled.n_dim), np.zeros(1)
        as_ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))  # noqa: E731
        status = callback(compiled.n_dim, as_ptr(x), as_ptr(grad), as_ptr(logp), user_data)
        ref_logp, ref_grad = compiled.logp_func(x)  # shared values: the same as in user_data
        assert status == 0
        assert_allclose(logp[0], ref_logp, rtol=1e-12)
        assert_allclose(grad, ref_grad, rtol=1e-12)
    x[0] = np.nan  # a non-finite gradient is reported to nutpie (status 3), as nutpie's own wrapper does
    assert callback(compiled.n_dim, as_ptr(x), as_ptr(grad), as_ptr(logp), user_data) == 3


def test_with_data_refits_without_recompiling_and_rejects_unknown_names():
    """Conjugate normal mean: posterior mean/sd are known in closed form for each swapped data set."""
    import nutpie

    with pm.Model() as model:
        y = pm.Data("y", np.zeros(20))
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("obs", mu, 1.0, observed=y)
    compiled = mc.compile_nutpie(model)
    rng = np.random.default_rng(3)
    for shift, n in ((-2.0, 20), (3.0, 35)):  # a new length too: the callbacks read each array's shape at run time
        data = shift + rng.standard_normal(n)
        idata = nutpie.sample(mc.with_data(compiled, {"y": data}), draws=1000, tune=500, chains=2, seed=1,
                              progress_bar=False)  # fmt: skip
        post_mean, post_sd = data.sum() / (n + 1.0), np.sqrt(1 / (n + 1.0))
        assert abs(float(idata.posterior["mu"].mean()) - post_mean) < 0.05
        assert abs(float(idata.posterior["mu"].std()) - post_sd) < 0.03
    with pytest.raises(KeyError, match="not pm.Data of the compiled model: \\['why'\\]"):
        mc.with_data(compiled, {"why": np.zeros(20)})


def test_c_callbacks_come_from_the_disk_cache_on_the_second_compile():
    """A second compile of the same structure loads both C callbacks from disk and computes the same values.

    The log density gets a constant unique to this test run, so its first compile cannot hit an old entry
    (the expand callback maps unconstrained to constrained values, which no prior constant enters, so it
    may already be cached). A data value baked into a cached callback would show up here: the second
    model has other data.
    """
    import ctypes
    import uuid

    if not mc.enable()["nutpie_patched"]:
        pytest.skip("nutpie version changed: the cacheable callbacks are off (see models/compile.py)")
    unique = 1.0 + uuid.uuid4().int % 10**6 / 10**7

    def model(y):
        with pm.Model() as m:
            data = pm.Data("y", y)
            mu = pm.Normal("mu", 0.0, unique)
            pm.Normal("obs", mu, pm.HalfNormal("sigma", 1.0), observed=data)
        return m

    rng = np.random.default_rng(5)
    first = mc.compile_nutpie(model(rng.standard_normal(15)))
    y2 = 3.0 + rng.standard_normal(15)
    second = mc.compile_nutpie(model(y2))
    assert first.compiled_logp_func.cache_hits == 0
    assert (second.compiled_logp_func.cache_hits, second.compiled_expand_func.cache_hits) == (1, 1)
    as_ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))  # noqa: E731
    x = np.array([0.3, -0.2])
    grad, logp = np.zeros(2), np.zeros(1)
    status = second.compiled_logp_func.ctypes(2, as_ptr(x), as_ptr(grad), as_ptr(logp),
                                              ctypes.c_void_p(second.user_data.ctypes.data))  # fmt: skip
    ref_logp, ref_grad = second.logp_func(x)  # the second model's own data, through PyTensor
    assert status == 0
    assert_allclose(logp[0], ref_logp, rtol=1e-12)
    assert_allclose(grad, ref_grad, rtol=1e-12)


def test_structure_key_is_shared_by_prior_sets_and_not_by_other_structures():
    """The first-compile lock is keyed by structure: every prior set maps to one key, another likelihood,
    grouping or data shape to another."""
    grouping = CONFIG["published"]["grouping"]
    data = PublishedData.from_observations(published_observations(), grouping)

    def key(prior="reference", likelihood="fisher_z", groups=grouping, d=data):
        return mc.structure_key(build_published_model(d, to_z_prior(CONFIG["priors"][prior], groups), likelihood))

    reference = key()
    assert key("sceptical") == reference == key("enthusiastic")
    assert key(likelihood="exact") != reference
    pooled = [g for g in grouping if g != "alliance_phase"]
    assert key(groups=pooled, d=PublishedData.from_observations(published_observations(), pooled)) != reference
    fewer = PublishedData.from_observations(published_observations().iloc[:-1], grouping)
    assert key(d=fewer) != reference


def test_first_compile_lock_makes_a_second_compiler_wait_once(tmp_path):
    """Two compilers of one structure: the second waits until the first is done; later ones take no lock."""
    import threading
    import time

    entered, order = threading.Event(), []

    def first():
        with mc.first_compile_lock("k", tmp_path):
            entered.set()
            time.sleep(0.8)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    entered.wait()
    t0 = time.perf_counter()
    with mc.first_compile_lock("k", tmp_path):  # flock: a second open file description waits, even in-process
        order.append("second in")
    waited = time.perf_counter() - t0
    thread.join()
    assert order == ["first done", "second in"] and waited > 0.5
    assert (tmp_path / "k.done").exists()
    with open(tmp_path / "k.lock") as held:  # a holder no longer blocks a structure compiled once
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)
        t0 = time.perf_counter()
        with mc.first_compile_lock("k", tmp_path):
            pass
        assert time.perf_counter() - t0 < 0.1


def test_a_failed_first_compile_leaves_no_done_mark(tmp_path):
    with pytest.raises(RuntimeError), mc.first_compile_lock("bad", tmp_path):
        raise RuntimeError("compile failed")
    assert not (tmp_path / "bad.done").exists()  # the next process compiles it itself


def _alliance_model():
    from models.participant import CohortData, build_alliance_model, simulate_from_model, to_participant_prior

    spec = COHORT_SPECS["mdd"]
    data = CohortData.from_long(simulate_from_model(spec, 24, {}, seed=2), spec, "GRID-HAMD")
    return build_alliance_model(data, to_participant_prior(CONFIG["priors"]["reference"]))


@pytest.mark.parametrize("build", [_model, _student_t_model, _alliance_model], ids=["track_a", "outcome", "alliance"])
def test_the_unrewritten_log_density_gives_the_rewritten_ones_shared_inputs(build):
    """With a hand-written kernel, nutpie's rewriting of the log density is skipped (compile._graphs_skipped):
    the kernel's data layout comes from the shared inputs the stand-in reports, which must be those nutpie's
    rewritten graph reads, in its order."""
    import nutpie.compile_pymc as cp
    import pytensor
    from pytensor.compile import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    model = build()
    rewritten = pytensor.graph.rewrite_graph(model.logp(), include=["canonicalize", "stabilize"])
    expected = [v.name for v in graph_inputs([rewritten]) if isinstance(v, SharedVariable)]
    initial = pm.initial_point.make_initial_point_fn(model=model)
    with mc._graphs_skipped([], logp=True):
        stand_in = cp._make_functions(model, mode="NUMBA", compute_grad=True, join_expanded=True,
                                      pymc_initial_point_fn=initial, var_names=None)[2]  # fmt: skip
    assert isinstance(stand_in, mc._SharedInputsOnly)
    assert [v.name for v in stand_in.get_shared()] == expected and expected


@pytest.mark.parametrize("build", [_model, _student_t_model], ids=["track_a", "student_t"])
def test_python_reference_matches_the_c_backend(build):
    """The reference a kernel is verified against (op by op in Python, scipy's erfcx and digamma) is PyMC's model:
    the same log density and gradient as PyTensor's C backend."""
    model = build()
    python, n_dim = mc.logp_dlogp_reference(model)
    c_backend, n_dim_c = mc.logp_dlogp_reference(model, mode=None)
    assert n_dim == n_dim_c
    rng = np.random.default_rng(3)
    for scale in (0.1, 1.0, 2.5):
        x = scale * rng.standard_normal(n_dim)
        (logp, grad), (ref_logp, ref_grad) = python(x), c_backend(x)
        assert_allclose(logp, ref_logp, rtol=1e-12)
        assert_allclose(grad, ref_grad, rtol=1e-9, atol=1e-12)


def test_a_kernel_is_verified_once_per_model_structure_and_a_wrong_one_never(tmp_path):
    """verify_kernel checks a kernel the first time it meets a model structure and records the pass; later compiles
    of the same structure (any prior set) skip the check. A kernel that fails is recorded nowhere."""
    model = _model()
    names = [v.name for v in model.data_vars]
    shared = shared_values(model, names)
    kernel = mc._HANDWRITTEN[model](model, names)
    n_dim = mc.logp_dlogp_reference(model)[1]
    assert mc.verify_kernel(model, kernel, n_dim, shared, folder=tmp_path) is True
    assert len(list(tmp_path.iterdir())) == 1
    assert mc.verify_kernel(model, kernel, n_dim, shared, folder=tmp_path) is False  # recorded: not checked again
    other_prior = _model()  # same structure under another prior set
    other_prior["prior_mu_sd"].set_value(np.asarray(0.2))
    assert mc.verify_kernel(other_prior, kernel, n_dim, shared, folder=tmp_path) is False

    def wrong(x, *args):  # a kernel out of step with the model: the log density of a model with one term more
        logp, grad = kernel(x, *args)
        return logp - 0.5 * x[0] ** 2, grad - np.eye(len(x))[0] * x[0]

    with pytest.raises(mc.KernelMismatch, match="disagrees"):
        mc.verify_kernel(model, wrong, n_dim, shared, folder=tmp_path / "other")
    assert not (tmp_path / "other").exists()

    def wrong_gradient(x, *args):  # the right log density, a gradient without one log Jacobian's 1
        logp, grad = kernel(x, *args)
        return logp, grad - np.eye(len(x))[1]

    with pytest.raises(mc.KernelMismatch, match="largest gradient difference 1"):
        mc.verify_kernel(model, wrong_gradient, n_dim, shared, folder=tmp_path / "other")
    assert not (tmp_path / "other").exists()
    with pytest.raises(mc.KernelMismatch, match="unconstrained parameters"):
        mc.verify_kernel(model, kernel, n_dim + 1, shared, folder=tmp_path / "other")
