"""Pointwise log-likelihood and log prior of every posterior draw, from one function call over all draws.

PyMC's ``compute_log_likelihood`` and ``compute_log_prior`` each compile a function of one draw and call it
once per draw through PyMC's point-dict wrapper: 2 x 8,000 calls, about 1.4 s of a Track B fit job. Here both
densities come from PyMC's own graphs (``model.logp(sum=False)`` on the untransformed model, exactly what PyMC's
functions evaluate), given a leading draw dimension by PyTensor's ``vectorize_graph`` and evaluated once, by
numpy, on arrays already in draw order. The result has the groups, variables, dims and coords PyMC's would have
(tests compare the two on every model kind).

Why numpy (PyTensor's ``FAST_COMPILE``: no code generation) and not numba: one call over all draws leaves
nothing for compiled code to win, and numba's compile is paid once per model structure in every cold run.
Measured 2026-12-02 on the 2-core machine (PTSD outcome model, 8,000 draws): 0.42 s to build + 0.08 s to run,
against 0.6-0.8 s for a numba function of one draw called per draw with a warm cache and 6.2 s with an empty one
(a numba function of all draws: 0.65 s warm, 31 s empty).

Building that function (PyMC's log-density graph, the vectorisation, PyTensor's rewrites) took 0.4-0.6 s of every
fit job, the same for every prior set of a model. So the compiled function is pickled beside PyTensor's compile
cache, under a key of the model's structure and constants (:func:`cache_key`), and a later job of the same
structure loads it (0.02 s) and gives it this model's ``pm.Data`` values (priors, observations) by name.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import pickle
import re
import tempfile
from pathlib import Path

import arviz as az
import numpy as np
import pymc as pm
import pytensor
from pymc.backends.arviz import coords_and_dims_for_inferencedata
from pymc.model.transform.conditioning import remove_value_transforms
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import graph_inputs

from models.all_draws import SAMPLE_DIMS, fold_variadic, per_draw_values, stacked, vectorised

log = logging.getLogger(__name__)


def _dataset(arrays: dict[str, np.ndarray], shape: tuple[int, int], umodel: pm.Model):
    coords, dims = coords_and_dims_for_inferencedata(umodel)
    trace = {k: v.reshape(*shape, *v.shape[1:]) for k, v in arrays.items()}
    return az.data.base.dict_to_dataset(
        trace, library=pm, dims=dims, coords=coords, default_dims=list(SAMPLE_DIMS), skip_event_dims=True
    )


def log_densities(idata: az.InferenceData, model: pm.Model, cache: Path | None = None) -> dict:
    """``{"log_likelihood": Dataset, "log_prior": Dataset}`` of ``idata``'s posterior draws under ``model``,
    as ``pm.compute_log_likelihood`` and ``pm.compute_log_prior`` compute them (constrained scale, no Jacobian).
    ``cache``: the folder of compiled functions (default: beside PyTensor's compile cache).
    """
    umodel = remove_value_transforms(model)
    observed, free = list(umodel.observed_RVs), list(umodel.free_RVs)
    fn, per_draw = _cached_function(umodel, model, cache)
    fold_variadic(fn)  # after the load: a node's tag is not pickled with it
    post = idata.posterior
    shape = (post.sizes[SAMPLE_DIMS[0]], post.sizes[SAMPLE_DIMS[1]])
    inputs = stacked(post, [rv.name for rv in free], [rv.dtype for rv in free])
    # a term that depends on no free variable (data-only observed) is the same for every draw
    outs = per_draw_values(fn(*inputs), per_draw, shape[0] * shape[1])
    arrays = dict(zip([rv.name for rv in observed + free], outs, strict=True))
    return {
        "log_likelihood": _dataset({rv.name: arrays[rv.name] for rv in observed}, shape, umodel),
        "log_prior": _dataset({rv.name: arrays[rv.name] for rv in free}, shape, umodel),
    }


def _build(umodel: pm.Model) -> tuple:
    """The function of all draws (one array per free variable, draws first) -> one array per term (observed, then
    free), and for each term whether it varies by draw."""
    observed, free = list(umodel.observed_RVs), list(umodel.free_RVs)
    values = [umodel.rvs_to_values[rv] for rv in free]
    batched, all_draws, per_draw = vectorised(umodel.logp(vars=observed + free, sum=False), values)
    fn = pytensor.function(batched, all_draws, mode="FAST_COMPILE", on_unused_input="ignore")
    return fn, per_draw


def cache_key(model: pm.Model) -> str:
    """What the compiled function depends on: the model's structure (:func:`models.compile.structure_key`: its
    generative graph, transforms, data shapes, library versions), the values of its constants (data given as
    arrays rather than ``pm.Data``, which the function holds), and this module's own code that builds it."""
    from models.compile import structure_key

    roots = model.basic_RVs + model.deterministics + model.potentials
    roots += [model.rvs_to_values[rv] for rv in model.observed_RVs]
    constants = sorted(
        hashlib.sha256(repr((str(c.type), _value_bytes(c.data))).encode()).hexdigest()
        for c in graph_inputs(roots) if isinstance(c, Constant)
    )  # fmt: skip
    return hashlib.sha256(repr((structure_key(model), constants, _RECIPE)).encode()).hexdigest()[:32]


def _value_bytes(value) -> bytes | str:
    """A constant's value as bytes (numbers) or its repr without memory addresses (None, slices and other objects,
    whose array would hold their address)."""
    array = np.asarray(value)
    return array.tobytes() if array.dtype.kind in "biufc" else re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def _cached_function(umodel: pm.Model, model: pm.Model, folder: Path | None = None) -> tuple:
    """:func:`_build`'s result, loaded from the cache when a job of this structure has built it before, its shared
    inputs set to ``model``'s values by name (``pm.Data`` and dimension lengths). A model whose log density reads a
    shared variable that is not one of those, with the same value, is built afresh each time (never cached); so is
    one whose cache entry cannot be read."""
    data = _shared_by_name(model)
    folder = folder or Path(pytensor.config.compiledir) / "reanalysis-log-density"
    path = folder / f"{cache_key(model)}.pkl"
    names = [rv.name for rv in umodel.observed_RVs + umodel.free_RVs]
    try:
        with open(path, "rb") as handle:
            entry = pickle.load(handle)
        fn, per_draw = entry["fn"], entry["per_draw"]
        shared = fn.get_shared()
        if entry["names"] != names or not all(v.name in data for v in shared):
            raise ValueError(f"{path}: its terms or shared inputs are not this model's")
        for v in shared:
            v.set_value(data[v.name].get_value(borrow=True), borrow=True)
        return fn, per_draw
    except FileNotFoundError:
        pass
    except Exception as err:  # a cache entry is never trusted over building afresh
        log.warning("log-density cache entry not used (%s); building the function", err)
    fn, per_draw = _build(umodel)
    if all(v.name in data and _same_value(v, data[v.name]) for v in fn.get_shared()):
        _store(path, {"fn": fn, "per_draw": per_draw, "names": names})
    return fn, per_draw


def _store(path: Path, entry: dict) -> None:
    """Pickle ``entry`` to ``path``, whole or not at all (jobs of one structure may write it at once); a function
    that cannot be pickled is simply not cached. Blockwise nodes keep the numpy function they run in their tag,
    a closure that cannot be pickled and that PyTensor makes again when it links the loaded function."""
    nodes = [n for n in entry["fn"].maker.fgraph.apply_nodes if hasattr(n.tag, "gufunc")]
    kept = [n.tag.__dict__.pop("gufunc") for n in nodes]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("wb", dir=path.parent, suffix=".tmp", delete=False)
    try:
        with handle:
            pickle.dump(entry, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except Exception as err:
        log.warning("log-density function not cached (%s)", err)
        Path(handle.name).unlink(missing_ok=True)
    finally:
        for node, gufunc in zip(nodes, kept, strict=True):
            node.tag.gufunc = gufunc


def _shared_by_name(model: pm.Model) -> dict:
    """The model's named shared variables: ``pm.Data`` and the lengths of resizable dimensions (the log density of
    ``remove_value_transforms(model)`` reads copies of some of them, under the same names)."""
    from pytensor.compile import SharedVariable

    lengths = {name: v for name, v in model.dim_lengths.items() if isinstance(v, SharedVariable)}
    return lengths | {v.name: v for v in model.data_vars}


def _same_value(a, b) -> bool:
    x, y = a.get_value(borrow=True), b.get_value(borrow=True)
    return a.type == b.type and np.shape(x) == np.shape(y) and np.array_equal(x, y)


# the code that builds and caches the function, part of every key (taken once: a test may replace _build)
_RECIPE = hashlib.sha256(
    "".join(inspect.getsource(f) for f in (_build, vectorised, _cached_function, _store)).encode()
).hexdigest()
