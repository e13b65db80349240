"""Compile a PyMC model for nutpie so that the compiled code outlives the process.

Snakemake runs every fit in its own process, so an in-memory compiled model is lost after each job.
PyTensor already keeps numba-compiled graphs in an on-disk cache (``~/.pytensor/numba``), keyed by the
graph's structure and constants but not by the values of shared variables (``pm.Data``). Two things
stopped our models from using it, measured on the Track A model (compile 13.5 s in every process):

* ``erfcx`` (in the stable log normal CDF of censored rows) and ``psi`` (digamma, in the gradient of a
  Student-t likelihood) are dispatched to scipy's Cython functions through raw function pointers, which
  numba refuses to cache; one uncacheable Op makes the whole graph uncacheable. :func:`_register_scalars`
  gives numba pure implementations that cache.
* nutpie wraps the graph in two C callbacks (``numba.cfunc``) that it compiles afresh in every
  process: about 10 s, most of it LLVM re-optimising the already cached graph linked into them. The
  replacements here are built from source with their free names as globals and stored in the same
  cache under a key derived from the graph's own key (:func:`_callback_key`); they also copy the
  gradient with a loop, which avoids numba's shape-error formatting, and read ``pm.Data`` from nutpie's
  user-data record with straight-line code (:func:`_extraction_src`), which numba types in a fraction of
  the time. They replace nutpie's private helpers only for the pinned nutpie version they were written
  against (``_PATCHED_NUTPIE``); any other version keeps nutpie's own.

With both, a new process compiles the Track A model in about 3.5 s once the cache is warm (15.7 s cold,
measured 2026-11-22 on the 2-core machine), most of it PyTensor's graph rewriting. Every prior set,
every SBC replicate and the reported/implied-n fits share one cache entry because priors and
observations are ``pm.Data``. Within one process, :func:`with_data` swaps shared values into an
already compiled model with no compile at all. A model with a hand-written kernel (:func:`register_handwritten`)
skips PyTensor's log density and gradient altogether (:func:`_graphs_skipped`): 0.5-0.9 s of graph rewriting
per process. nutpie's expand function (constrained parameters and deterministics of each draw) is not compiled
either: its callback copies the draw, and :mod:`models.posterior_expand` derives the rest after sampling. With
both, a first compile of Track A with an empty cache took 5.5-6.2 s against 9.9 s, and 0.28-0.36 s with a warm
cache (2026-12-03).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import re
import weakref
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pymc as pm

_PATCHED_NUTPIE = "0.16.8"
# bump an implementation's version when its code changes: it is part of the numba cache key
_ERFCX_IMPL, _PSI_IMPL = "reanalysis-erfcx-1", "reanalysis-psi-1"
_state = {"enabled": False, "nutpie_patched": False, "gradient": None, "expand_copy": False}
log = logging.getLogger(__name__)
# model -> factory (model, names of the shared variables its log density reads) -> a numba function with the
# signature of PyTensor's compiled log density and gradient; see register_handwritten
_HANDWRITTEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
GRADIENTS = ("handwritten", "pytensor")

_SQRT_PI = math.sqrt(math.pi)


def erfcx_scalar(x: float) -> float:
    """Scaled complementary error function exp(x^2) erfc(x) in plain float arithmetic.

    Below 25 the direct product is accurate to about 1e-14 relative (libm's erfc keeps full relative
    precision until it underflows near 26.5); above, the asymptotic series to the x^-10 term is
    accurate to 1e-13. Below -26.62 the true value exceeds the largest float64: inf.
    """
    if x < -26.62:  # 2 exp(x^2) exceeds the largest float64
        return math.inf
    if x < 25.0:
        return math.exp(x * x) * math.erfc(x)
    y = 1.0 / (x * x)
    return (1.0 - y * (0.5 - y * (0.75 - y * (1.875 - y * 6.5625)))) / (x * _SQRT_PI)


def digamma_scalar(x: float) -> float:
    """psi(x) = d log Gamma(x) / dx in plain float arithmetic, with scipy.special.digamma's poles and signs.

    Recurrence up to x >= 10, then the asymptotic series to the x^-10 term (first omitted term below 3e-14);
    negative x by reflection, psi(x) = psi(1 - x) - pi / tan(pi x).
    """
    if math.isnan(x) or x == -math.inf or (x < 0.0 and x == math.floor(x)):
        return math.nan
    if x == math.inf:
        return math.inf
    if x == 0.0:
        return -math.inf if math.copysign(1.0, x) > 0 else math.inf
    shift = 0.0
    if x < 0.0:  # tan has period pi: reduce to the exact fraction of x first, as pi * x would lose digits
        shift = -math.pi / math.tan(math.pi * (x - math.floor(x)))
        x = 1.0 - x
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    tail = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))))
    return shift + math.log(x) - 0.5 / x - tail


def _register_scalars() -> None:
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
    from pytensor.link.numba.dispatch.scalar import scalar_op_cache_key
    from pytensor.scalar.math import Erfcx, Psi

    for op_class, scalar, impl in ((Erfcx, erfcx_scalar, _ERFCX_IMPL), (Psi, digamma_scalar, _PSI_IMPL)):
        jitted = numba_njit(scalar)

        def funcify(op, node, jitted=jitted, impl=impl, **kwargs):
            return jitted, scalar_op_cache_key(op, impl=impl)

        register_funcify_and_cache_key(op_class)(funcify)


# The C callbacks are generated from source with their free names as globals, not as closures: numba's
# cache index hashes a closure's pickled cells (new dispatcher objects in every process, so never a hit),
# while globals are frozen into the code and the entry is found by the key below instead. ``__name__``
# names an importable module: a cached entry rebuilds its numba environment from it.
#
# Each callback reads the model's shared data (pm.Data) from nutpie's user-data record itself, with one
# straight line per array at byte offsets fixed by the record's dtype (:func:`_extraction_src`). nutpie's own
# extraction unrolls a loop over record fields, whose typing was most of the 6 s numba spent on a kernel
# model's log-density callback with an empty cache.
_LOGP_SRC = """
def logp_numba(dim, x_, out_, logp_, user_data_):
    if dim != n_dim:
        return -1
{extract}
    logp_val, grad = inner(numba.carray(x_, (n_dim,)){args})
    logp_[0] = logp_val
    finite = True
    for i in range(n_dim):
        out_[i] = grad[i]
        finite = finite and np.isfinite(grad[i])
    if not finite:
        return 3
    if not np.isfinite(logp_val):
        return 4
    return 0
"""
_EXPAND_SRC = """
def expand_numba(dim, expanded, x_, out_, user_data_):
    if dim != n_dim or expanded != n_expanded:
        return -1
{extract}
    (values,) = inner(numba.carray(x_, (n_dim,)){args})
    for i in range(n_expanded):
        out_[i] = values[i]
    return 0
"""
_CALLBACK_IMPL = "reanalysis-nutpie-callbacks-3"  # bump when the sources here change: part of the cache key


def _extraction_src(names, shared_data, record_dtype) -> tuple[str, str]:
    """Source lines that view each shared array in nutpie's user-data record, and the argument list passing them.

    The record (``nutpie.compile_pymc.make_user_data``) holds, per array, its address, its size and its shape, all
    8-byte words; the lines read them as words of the record, so the shape is the one ``with_data`` last set.
    """
    shared_dtype, shared_offset = record_dtype.fields["shared"][:2]

    def word(group: str, name: str) -> int:
        group_dtype, group_offset = shared_dtype.fields[group][:2]
        offset = shared_offset + group_offset + group_dtype.fields[name][1]
        if offset % 8:
            raise ValueError(f"nutpie's user-data record is not 8-byte aligned at {group}/{name}")
        return offset // 8

    lines = ["    words = numba.carray(user_data_, (record_words,), np.uint64)"] if names else []
    args = []
    for i, name in enumerate(names):
        dtype, ndim = np.dtype(shared_data[name].dtype), shared_data[name].ndim
        shape = "".join(f"int(words[{word('shape', name) + k}]), " for k in range(ndim))
        lines.append(f"    a{i} = numba.carray(as_pointer(words[{word('data', name)}]), ({shape}), np.{dtype.name})")
        args.append(f", a{i}")
    return "\n".join(lines), "".join(args)


def _callback_key(inner, *parts) -> str:
    """Cache key of a C callback: the wrapped graph's own numba cache key plus everything frozen into the code.

    A graph numba cannot cache has no key; its callback then gets a unique one, so it can never be
    mistaken for another model's (numba also declines to save code that holds dynamic globals).
    """
    import hashlib
    import uuid

    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    inner_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    if inner_key is None:
        return f"uncached-{uuid.uuid4().hex}"
    return hashlib.sha256(repr((_CALLBACK_IMPL, _PATCHED_NUTPIE, inner_key, parts)).encode()).hexdigest()


def _shared_layout(names, shared_data, record_dtype) -> tuple:
    return tuple((n, shared_data[n].shape, str(shared_data[n].dtype)) for n in names), str(record_dtype)


def _patch_nutpie_wrappers() -> bool:
    """Replace nutpie's C-callback builders by cacheable, lighter equivalents (pinned nutpie version only)."""
    if version("nutpie") != _PATCHED_NUTPIE:
        return False
    import numba
    import nutpie.compile_pymc as cp
    from pytensor.link.numba.cache import compile_numba_function_src

    f64p = numba.types.CPointer(numba.types.double)

    def callback(template, name, inner, shared_names, shared_data, record_dtype, key, **constants):
        extract, args = _extraction_src(shared_names, shared_data, record_dtype)
        env = {"__name__": __name__, "numba": numba, "np": np, "inner": inner, "as_pointer": cp.address_as_void_pointer,
               "record_words": record_dtype.itemsize // 8, **constants}  # fmt: skip
        return compile_numba_function_src(template.format(extract=extract, args=args), name, env, cache_key=key)

    def make_c_logp_func(n_dim, logp_fn, user_data, shared_logp, shared_data):
        # Same contract as nutpie's logp_numba: 0 ok, -1 wrong dimension, 3 non-finite gradient,
        # 4 non-finite log density.
        if _state["gradient"] is not None:  # a hand-written gradient, verified against the model (verify_kernel)
            # writeable copies: nutpie's read-only arrays would give numba a second signature of the kernel to
            # compile (read-only arrays) besides the callback's (writeable carrays), 0.5-3.7 s with an empty cache
            logp_fn = _state["gradient"](shared_logp, n_dim, [np.array(shared_data[n]) for n in shared_logp])
        c_sig = numba.types.int64(numba.types.uint64, f64p, f64p, f64p, numba.types.voidptr)
        key = _callback_key(logp_fn, "logp", n_dim, _shared_layout(shared_logp, shared_data, user_data.dtype))
        fn = callback(_LOGP_SRC, "logp_numba", logp_fn, shared_logp, shared_data, user_data.dtype, key, n_dim=n_dim)
        return fn, c_sig

    def make_c_expand_func(n_dim, n_expanded, expand_fn, user_data, shared_vars, shared_data):
        c_sig = numba.types.int64(numba.types.uint64, numba.types.uint64, f64p, f64p, numba.types.voidptr)
        if _state["expand_copy"]:  # the trace's other variables are derived afterwards (compile_nutpie)
            if n_expanded != n_dim:
                raise RuntimeError(f"nutpie expands {n_dim} unconstrained values to {n_expanded}; expected a copy")
            return copy_expand, c_sig
        layout = _shared_layout(shared_vars, shared_data, user_data.dtype)
        key = _callback_key(expand_fn, "expand", n_dim, n_expanded, layout)
        fn = callback(_EXPAND_SRC, "expand_numba", expand_fn, shared_vars, shared_data, user_data.dtype, key,
                      n_dim=n_dim, n_expanded=n_expanded)  # fmt: skip
        return fn, c_sig

    cp._make_c_logp_func = make_c_logp_func
    cp._make_c_expand_func = make_c_expand_func
    return True


def enable() -> dict:
    """Idempotently switch on the cacheable erfcx and psi and the faster nutpie wrappers; returns what is active."""
    if not _state["enabled"]:
        _register_scalars()
        _state["nutpie_patched"] = _patch_nutpie_wrappers()
        _state["enabled"] = True
    return dict(_state)


def structure_key(model: pm.Model) -> str:
    """Fingerprint of what nutpie compiles: the model's generative graph (every random variable, deterministic and
    potential, from which PyMC derives the log density), the transforms of its free variables, the shapes of the
    ``pm.Data`` values and the versions of the libraries that derive and compile the log density. The values
    themselves are not part of it, so every prior set and data set of one model structure has one key. Two
    structures sharing a key would only make one first compile wait for the other.

    The graph of random variables, not of the log density: building ``model.logp()`` to print it took 0.13-0.38 s in
    every fit process, printing the generative graph takes about 3 ms, and the first determines the second.
    A transform is named by its class: the models here use PyMC's default transforms, whose parameters are inputs
    of the graph (a hand-made transform with constants of its own would need them in the key).
    """
    from pytensor.printing import debugprint

    graph = debugprint(model.basic_RVs + model.deterministics + model.potentials, file="str", print_type=True)
    graph = re.sub(r" at 0x[0-9a-fA-F]+", "", graph)  # random generators print their address
    transforms = sorted(
        (rv.name, None if t is None else f"{type(t).__module__}.{type(t).__qualname__}")
        for rv, t in model.rvs_to_transforms.items()
    )
    shapes = sorted((v.name, v.get_value(borrow=True).shape, str(v.dtype)) for v in model.data_vars)
    libraries = [version(lib) for lib in ("pymc", "pytensor")]
    parts = (graph, transforms, shapes, model.check_bounds, libraries)  # the graph prints every variable's name
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


@contextlib.contextmanager
def first_compile_lock(key: str, folder: Path | None = None):
    """Let one process at a time compile a structure the on-disk cache has not seen; the others wait, then load it.

    The cold pipeline starts the fits of every prior set at once; without this each compiled the same code side
    by side (about 25-50 s of one core each). Once a compile of ``key`` has finished, later ones take no lock.
    """
    import pytensor

    try:
        import fcntl  # noqa: I001
    except ImportError:  # not POSIX: no lock, every process compiles (slower, same result)
        yield
        return
    folder = folder or Path(pytensor.config.compiledir) / "reanalysis-first-compile"  # beside the cache it guards
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / f"{key}.done"
    if done.exists():
        yield
        return
    with open(folder / f"{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the OS if the holder dies
        try:
            yield
            done.touch()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def register_handwritten(model: pm.Model, factory) -> None:
    """Offer a hand-written log density and gradient for ``model``, used by :func:`compile_nutpie` instead of
    PyTensor's compiled graph. ``factory(model, shared_names)`` returns a numba function ``(x, *shared) ->
    (logp, grad)`` with the shared variables in ``shared_names`` order; it is compared with the model's own on
    random points before it is first used with a model structure (:func:`verify_kernel`), so a model edited
    without its kernel fails loudly.
    """
    _HANDWRITTEN[model] = factory


def compile_kernel(src: str, name: str, env: dict, key: str):
    """The numba function ``name`` defined by ``src`` with ``env`` as its globals, stored in PyTensor's numba cache
    under ``key``: a hand-written kernel's wrapper, specialised to one model structure by the constants in ``env``."""
    import numba
    from pytensor.link.numba.cache import compile_numba_function_src

    return numba.njit(cache=True)(compile_numba_function_src(src, name, env, cache_key=key))


def logp_dlogp_reference(model: pm.Model, mode: str | None = "FAST_COMPILE", gradient: bool = True):
    """PyMC's log density and gradient of ``model`` as a function ``(x, *shared) -> (logp, grad)`` of nutpie's
    joined vector x (value variables in ``model.value_vars`` order, raveled), with the model's current ``pm.Data``
    values (``shared`` is accepted and ignored, for :func:`check_against`). Returns (function, length of x).
    ``gradient=False``: the log density only (``grad`` is None); building the gradient graph is most of the cost.

    The default mode evaluates PyTensor's graph op by op in Python (scipy for erfcx and digamma): it compiles in
    under a second where the numba graph takes 15-25 s with an empty cache, and shares no code with numba.
    ``mode=None`` gives PyTensor's default (C) backend.
    """
    import pytensor

    outputs = [model.logp(), model.dlogp()] if gradient else [model.logp()]
    fn = pytensor.function(model.value_vars, outputs, mode=mode, on_unused_input="ignore")
    point = model.initial_point()
    shapes = [np.shape(point[v.name]) for v in model.value_vars]
    sizes = [int(np.prod(shape)) for shape in shapes]
    bounds = np.cumsum([0, *sizes])

    def reference(x, *_shared):
        values = fn(*[x[a:b].reshape(shape) for a, b, shape in zip(bounds[:-1], bounds[1:], shapes, strict=True)])
        return values[0], values[1] if gradient else None

    return reference, int(bounds[-1])


class KernelMismatch(RuntimeError):
    """A hand-written log density disagrees with PyTensor's compiled model: the kernel is out of date."""


def value_positions(model: pm.Model, sizes: dict[str, int], kernel: str) -> dict[str, int]:
    """Where each value variable starts in nutpie's joined vector (value variables in ``model.value_vars`` order,
    raveled), given its size; a variable ``sizes`` does not know means the kernel no longer describes the model."""
    at, start = {}, 0
    for value in model.value_vars:
        if value.name not in sizes:
            raise KernelMismatch(f"the model has a parameter {value.name!r} the {kernel} kernel does not know")
        at[value.name] = start
        start += sizes[value.name]
    return at


def _central_differences(kernel, x: np.ndarray, shared: list[np.ndarray], h: float = 1e-5) -> np.ndarray:
    """The gradient of ``kernel``'s own log density at ``x`` by central differences (step h * max(1, |x_i|))."""
    grad = np.empty(len(x))
    for i in range(len(x)):
        step = h * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (kernel(up, *shared)[0] - kernel(down, *shared)[0]) / (2.0 * step)
    return grad


def check_against(kernel, reference, n_dim: int, shared: list[np.ndarray], points: int = 24, seed: int = 0) -> float:
    """Largest disagreement of ``kernel`` with ``reference`` (both ``(x, *shared) -> (logp, grad)``) on random x.

    Points are standard normal draws scaled by 0.1 to 3 (log sigmas and offsets from near zero to the tails).
    Raises :class:`KernelMismatch` above 1e-8 relative (log density) or 1e-6 relative with 1e-8 absolute
    (gradient): a change to the model that the kernel does not mirror. A reference without gradient (``grad`` None)
    checks the kernel's gradient against central differences of the kernel's log density instead, which the check
    has just held to the reference's: 1e-5 relative with 1e-6 * max(1, |log density|) absolute (the differences'
    rounding error grows with the log density); a missing term of a gradient, such as a log Jacobian's 1, or a
    sign, is far outside that.
    """
    rng = np.random.default_rng(seed)
    worst, compared = 0.0, 0
    for i in range(points):
        x = rng.standard_normal(n_dim) * (0.1, 0.5, 1.0, 3.0)[i % 4]
        ref_logp, ref_grad = reference(x, *shared)
        logp, grad = kernel(x, *shared)
        ref_logp = float(np.asarray(ref_logp))
        if not np.isfinite(ref_logp):
            continue  # the reference itself is undefined there: nothing to compare (and nothing to difference)
        differences = ref_grad is None
        ref_grad = _central_differences(kernel, x, shared) if differences else np.asarray(ref_grad)
        if not np.all(np.isfinite(ref_grad)):
            continue
        compared += 1
        logp_err = abs(logp - ref_logp) / max(1.0, abs(ref_logp))
        grad_err = float(np.max(np.abs(grad - ref_grad) / (1e-2 + np.abs(ref_grad))))
        rtol, atol = (1e-5, 1e-6 * max(1.0, abs(ref_logp))) if differences else (1e-6, 1e-8)
        if logp_err > 1e-8 or not np.allclose(grad, ref_grad, rtol=rtol, atol=atol):
            source = getattr(getattr(kernel, "py_func", kernel), "__module__", "the kernel")
            raise KernelMismatch(
                f"hand-written gradient ({source}) disagrees with the PyMC model's compiled one at "
                f"point {i}: log density {logp!r} vs {ref_logp!r}, largest gradient difference "
                f"{np.max(np.abs(grad - ref_grad)):.3g}; update the kernel or set sampler.gradient: pytensor"
            )
        worst = max(worst, logp_err, grad_err)
    if compared < points // 2:  # a check that compared (almost) nothing has not checked anything
        raise KernelMismatch(f"PyTensor's log density was finite at only {compared} of {points} check points")
    return worst


def verify_kernel(
    model: pm.Model, kernel, n_dim: int, shared: list, structure: str | None = None, folder: Path | None = None
) -> bool:
    """Check ``kernel`` against ``model`` (:func:`check_against`: the log density against PyMC's,
    :func:`logp_dlogp_reference` without gradient, and the gradient against central differences of the kernel's log
    density) unless this kernel has passed the check with this model structure before; returns whether it checked
    now. ``structure``: :func:`structure_key` of the model, when the caller has it. PyMC's gradient graph is not
    built here: in a new process that took 1.1-2.4 s of the 1.3-2.7 s the reference took (2026-12-02), on the first
    compile of every structure.

    A pass is recorded on disk, beside the compile cache, under a key of the model's structure
    (:func:`structure_key`: the log-density graph and the data shapes) and the kernel's own cache key (its
    source and layout). Priors and observations are inputs of both and not part of the key: a prior edit is
    not a new structure, while an edited model or kernel is, and is checked again.
    """
    import pytensor
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    py_func = getattr(kernel, "py_func", None)  # a numba function made by compile_numba_function_src has a key
    kernel_key = CACHED_SRC_FUNCTIONS.get(py_func) if py_func is not None else None
    key = hashlib.sha256(repr((structure or structure_key(model), kernel_key, n_dim)).encode()).hexdigest()[:32]
    folder = folder or Path(pytensor.config.compiledir) / "reanalysis-kernel-checks"
    passed = folder / f"{key}.passed"
    if kernel_key is not None and passed.exists():
        return False
    reference, size = logp_dlogp_reference(model, gradient=False)
    if size != n_dim:
        raise KernelMismatch(f"the model has {size} unconstrained parameters; nutpie compiled {n_dim}")
    worst = check_against(kernel, reference, n_dim, shared)
    log.info("hand-written gradient agrees with the model's (largest relative difference %.2g)", worst)
    if kernel_key is not None:  # a kernel without a cache key is checked at every compile
        folder.mkdir(parents=True, exist_ok=True)
        passed.touch()
    return True


def compile_nutpie(model: pm.Model, gradient: str = "handwritten"):
    """nutpie's compiled model, through the on-disk numba cache (one first compile per structure at a time).

    ``gradient``: ``handwritten`` uses the model's registered kernel (:func:`register_handwritten`) where it has
    one and nutpie's wrappers are patched, PyTensor's compiled graph otherwise; ``pytensor`` always the latter.

    With nutpie's wrappers patched, the trace holds the unconstrained draws only, and the constrained parameters and
    deterministics are derived afterwards (:mod:`models.posterior_expand`, the model's ``expand_func``): sample it
    with :func:`models.nutpie_trace.sample`, which adds them, not with ``nutpie.sample``.
    """
    if gradient not in GRADIENTS:
        raise ValueError(f"sampler.gradient={gradient!r}; expected one of {GRADIENTS}")
    enable()
    import nutpie

    if not _state["nutpie_patched"]:
        return nutpie.compile_pymc_model(model)
    from models.posterior_expand import expander

    factory = _HANDWRITTEN.get(model) if gradient == "handwritten" else None
    structure = structure_key(model)
    expand = expander(model)

    def verified(names, n_dim, shared):
        kernel = factory(model, names)
        verify_kernel(model, kernel, n_dim, shared, structure)
        return kernel

    _state["gradient"] = verified if factory else None
    try:
        with first_compile_lock(structure), _graphs_skipped(expand.shared, logp=factory is not None):
            # cache=True: the C callbacks are stored under the keys of _callback_key (nutpie's own closures would
            # miss the cache every time)
            compiled = nutpie.compile_pymc_model(model, cache=True, var_names=[])
    finally:
        _state["gradient"] = None
    return dataclasses.replace(compiled, expand_func=expand)


def copy_expand(dim, expanded, x_, out_, user_data_):
    """nutpie's expand callback when the trace's other variables are derived afterwards (models.posterior_expand):
    the draw itself. Module-level, so numba caches one callback for every model."""
    if dim != expanded:
        return -1
    for i in range(dim):
        out_[i] = x_[i]
    return 0


class _SharedInputsOnly:
    """Stands in for a function nutpie would compile with PyTensor and that is not needed (a log density a
    hand-written kernel replaces, an expand function replaced by :func:`copy_expand`): nutpie asks it only which
    shared variables the function reads (to lay out the callbacks' data), never to run."""

    def __init__(self, shared):
        self._shared = list(shared)
        self.vm = self  # nutpie reads ``.vm.jit_fn``

    def get_shared(self):
        return self._shared

    def jit_fn(self, *args):
        raise RuntimeError("this PyTensor function was not compiled: a hand-written kernel or models.posterior_expand "
                           "does its work")  # fmt: skip


def shared_inputs(outputs, skip=()) -> list:
    """The shared variables (``pm.Data``, dimension lengths) the graph of ``outputs`` reads, but those in ``skip``."""
    from pytensor.compile import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    skipped = {id(v) for v in skip}
    return [v for v in graph_inputs(outputs) if isinstance(v, SharedVariable) and id(v) not in skipped]


@contextlib.contextmanager
def _graphs_skipped(expand_shared, logp: bool):
    """nutpie without PyTensor's expand function and, with ``logp`` (a hand-written kernel), without its log-density
    graph (pinned nutpie only).

    The expand function: nutpie is asked for no trace variables beyond the unconstrained draws (``var_names=[]``),
    its compile of that trivial function (the call with ``givens``) returns a stand-in reading ``expand_shared``
    (the shared inputs of what :mod:`models.posterior_expand` derives, so ``with_data`` can update them), and
    :func:`copy_expand` is its callback.

    The log density: nutpie builds the gradient graph of the log density and compiles it (0.5-0.9 s of graph
    rewriting in every process, warm cache or not), then hands it to the C-callback builder, where the kernel
    replaces it. With ``logp``, nutpie is asked for the log density without gradient, and its compile of it
    returns the log density's shared inputs only, and its rewriting of the log density (canonicalize, stabilize:
    0.1-0.37 s a fit, 2026-12-02) is skipped: nothing evaluates that graph. Unrewritten, it also reads the lengths
    of the model's dimensions, which are left out; its other shared inputs are the rewritten graph's, in the same
    order (tests/test_compile.py, every model kind; a difference would change the kernel's data layout, hence its
    cache key, and so be checked again by :func:`verify_kernel`).
    """
    import nutpie.compile_pymc as cp
    import pymc.pytensorf as pf
    import pytensor.graph

    make_functions, compile_, rewrite = cp._make_functions, pf.compile, pytensor.graph.rewrite_graph
    compute_shapes = cp._compute_shapes

    def functions(model, **kwargs):
        def compile_skipping(inputs, outputs, *args, **kwargs):
            if "givens" in kwargs:  # the expand function
                return _SharedInputsOnly(expand_shared)
            if logp:
                return _SharedInputsOnly(shared_inputs(outputs, model.dim_lengths.values()))
            return compile_(inputs, outputs, *args, **kwargs)

        def free_shapes(_model):
            # the shapes of the trace's variables, now the free ones only, from the initial-point function nutpie has
            # just compiled; nutpie's own compiles another and a function of every variable's shape (0.2-0.3 s)
            return {name: np.shape(value) for name, value in kwargs["pymc_initial_point_fn"](0).items()}

        pf.compile = compile_skipping  # _make_functions imports it when called
        cp._compute_shapes = free_shapes
        if logp:  # _make_functions's only call of it: the log density
            pytensor.graph.rewrite_graph = lambda graph, **_: graph
        try:
            return make_functions(model, **(kwargs | {"compute_grad": not logp, "var_names": []}))
        finally:
            pf.compile, cp._compute_shapes, pytensor.graph.rewrite_graph = compile_, compute_shapes, rewrite

    cp._make_functions = functions
    _state["expand_copy"] = True
    try:
        yield
    finally:
        cp._make_functions = make_functions
        _state["expand_copy"] = False


def with_data(compiled, values: dict[str, np.ndarray]):
    """The compiled model with new values for some ``pm.Data`` containers (no recompilation).

    Names and shapes must match containers of the compiled model; a misspelt name would otherwise be
    ignored silently by the caller's intent, so it is an error here.
    """
    known = set(compiled.shared_data)
    unknown = sorted(set(values) - known)
    if unknown:
        raise KeyError(f"not pm.Data of the compiled model: {unknown}; known: {sorted(known)}")
    return compiled.with_data(**{k: np.asarray(v, dtype=compiled.shared_data[k].dtype) for k, v in values.items()})
