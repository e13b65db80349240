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

from pathlib import Path

import arviz as az
import numpy as np
import pymc as pm
import pytensor
from pymc.backends.arviz import coords_and_dims_for_inferencedata
from pymc.model.transform.conditioning import remove_value_transforms

from models.all_draws import SAMPLE_DIMS, fold_variadic, per_draw_values, stacked, vectorised
from models.function_cache import entry_key, load_or_build, recipe, shared_by_name


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
    """What the compiled function depends on: the model's structure and constants
    (:func:`models.function_cache.model_key`) and this module's own code that builds it."""
    return entry_key(model, _RECIPE)


def _cached_function(umodel: pm.Model, model: pm.Model, folder: Path | None = None) -> tuple:
    """:func:`_build`'s result, loaded from the cache when a job of this structure has built it before, its shared
    inputs set to ``model``'s values by name (``pm.Data`` and dimension lengths; :mod:`models.function_cache`)."""
    folder = folder or Path(pytensor.config.compiledir) / "reanalysis-log-density"
    names = [rv.name for rv in umodel.observed_RVs + umodel.free_RVs]

    def build() -> dict:
        fn, per_draw = _build(umodel)
        return {"fn": fn, "per_draw": per_draw}

    entry = load_or_build(folder / f"{cache_key(model)}.pkl", shared_by_name(model), build, {"names": names},
                          "log-density")  # fmt: skip
    return entry["fn"], entry["per_draw"]


# the code that builds and caches the function, part of every key (taken once: a test may replace _build)
_RECIPE = recipe(_build, vectorised, _cached_function)
