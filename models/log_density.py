"""Pointwise log-likelihood and log prior of every posterior draw, from one compiled function.

PyMC's ``compute_log_likelihood`` and ``compute_log_prior`` each compile a function of one draw and call it
once per draw through PyMC's point-dict wrapper, which sets every input by name: 2 x 8,000 calls, about 1.4 s of
a Track B fit job (of 1.9 s in all; measured 2026-12-02 on the 2-core machine). Here both densities come from
one function of one draw (PyMC's own graphs: ``model.logp(sum=False)`` on the untransformed model, exactly what
PyMC's functions evaluate), called positionally on arrays already in draw order. The result has the groups,
variables, dims and coords PyMC's would have (tests compare the two on every model kind).

A function of all draws at once (PyTensor's ``vectorize_graph``) was tried and dropped: with a warm compile cache
it took 0.65 s against 0.47 s here (PTSD outcome model, 8,000 draws; PyMC's two functions 1.19 s), and its numba
compile with an empty cache 31 s against 11 s here (PyMC's two 14 s; 2026-12-02), once per model structure.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pymc as pm
import pytensor
from pymc.backends.arviz import coords_and_dims_for_inferencedata
from pymc.model.transform.conditioning import remove_value_transforms

SAMPLE_DIMS = ("chain", "draw")


def _dataset(arrays: dict[str, np.ndarray], shape: tuple[int, int], umodel: pm.Model):
    coords, dims = coords_and_dims_for_inferencedata(umodel)
    trace = {k: v.reshape(*shape, *v.shape[1:]) for k, v in arrays.items()}
    return az.data.base.dict_to_dataset(
        trace, library=pm, dims=dims, coords=coords, default_dims=list(SAMPLE_DIMS), skip_event_dims=True
    )


def log_densities(idata: az.InferenceData, model: pm.Model) -> dict:
    """``{"log_likelihood": Dataset, "log_prior": Dataset}`` of ``idata``'s posterior draws under ``model``,
    as ``pm.compute_log_likelihood`` and ``pm.compute_log_prior`` compute them (constrained scale, no Jacobian).
    """
    from models.compile import enable

    enable()  # a cacheable erfcx (Track A's censored rows), as for the sampler's graph
    umodel = remove_value_transforms(model)
    observed, free = list(umodel.observed_RVs), list(umodel.free_RVs)
    values = [umodel.rvs_to_values[rv] for rv in free]
    # numba: the compiled graph is kept in PyTensor's on-disk cache like the sampler's (models.compile)
    fn = pytensor.function(values, umodel.logp(vars=observed + free, sum=False), mode="NUMBA", on_unused_input="ignore")
    post = idata.posterior
    shape = (post.sizes[SAMPLE_DIMS[0]], post.sizes[SAMPLE_DIMS[1]])
    n_draws = shape[0] * shape[1]
    inputs = []
    for rv in free:
        draws = post[rv.name].transpose(*SAMPLE_DIMS, ...).values
        inputs.append(np.ascontiguousarray(draws.reshape(n_draws, *draws.shape[2:]), dtype=rv.dtype))
    first = fn(*[x[0, ...] for x in inputs])  # checks the inputs' types once; then they are trusted
    fn.trust_input = True
    outs = [np.empty((n_draws, *np.shape(o))) for o in first]
    for i in range(n_draws):
        values = first if i == 0 else fn(*[x[i, ...] for x in inputs])
        for out, value in zip(outs, values, strict=True):
            out[i] = value
    arrays = dict(zip([rv.name for rv in observed + free], outs, strict=True))
    return {
        "log_likelihood": _dataset({rv.name: arrays[rv.name] for rv in observed}, shape, umodel),
        "log_prior": _dataset({rv.name: arrays[rv.name] for rv in free}, shape, umodel),
    }
