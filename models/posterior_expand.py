"""The trace variables nutpie's expand function computes for each draw, computed instead for all draws at once.

nutpie stores every draw's free parameters on the unconstrained scale (its "joined" vector) and whatever its
expand function derives from them: each constrained parameter (``sigma`` from ``sigma_log__``) and every
deterministic. It compiles that function, PyMC's graph of ``model.unobserved_value_vars``, with numba into a C
callback, once per model structure: about 4 s of the Track A model's 9.9 s first compile with an empty cache
(2026-12-03, 2-core machine), paid again in every cold run for each of the pipeline's model structures.

With :func:`models.compile.compile_nutpie`, nutpie's expand callback only copies the joined vector (one small
cached callback for every model), and :class:`Expander` derives the same variables afterwards from the stored
draws: the same PyMC graph, given a leading draw dimension by PyTensor's ``vectorize_graph`` and run by numpy.
Measured on Track A: 0.02 s to build, 3-5 ms for 8,000 draws.

It runs without graph rewrites: PyTensor's FAST_COMPILE rewrites merge chained additions into one n-ary ``Add``,
which has no numpy ufunc, so PyTensor then calls a Python scalar function for every element (0.1 s for the same
draws). Tests hold the result to nutpie's own expand function, draw by draw (tests/test_posterior_expand.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor
import xarray as xr
from pytensor.compile.mode import Mode
from pytensor.compile.ops import ViewOp

from models.all_draws import SAMPLE_DIMS, fold_variadic, per_draw_values, stacked, vectorised
from models.compile import shared_inputs

_NUMPY_AS_WRITTEN = Mode(linker="py", optimizer=None)  # numpy per node, the graph as PyMC wrote it


@dataclass(frozen=True)
class Expander:
    """Derives a posterior's constrained parameters and deterministics from its unconstrained draws.

    ``value_names``: the free parameters as nutpie stores them (value variables, free_RVs order); ``names``: the
    variables derived, in nutpie's order; ``shared``: the shared variables (``pm.Data``) the derivation reads,
    whose values are taken by name from the compiled model's current data at each call (``with_data``).
    """

    fn: object
    value_names: tuple[str, ...]
    names: tuple[str, ...]
    per_draw: tuple[bool, ...]  # whether each derived variable depends on the draw (else: the same for all)
    dims: Mapping[str, tuple[str, ...]]
    shared: tuple  # SharedVariable objects, in fn's input order after the draws

    def __call__(self, posterior: xr.Dataset, shared_data: Mapping[str, np.ndarray], coords: Mapping) -> xr.Dataset:
        """``posterior`` (unconstrained draws, dims chain and draw first) with the derived variables added after
        its own, as nutpie's trace orders them; ``coords``: the model's coordinates (nutpie's ``compiled.coords``)."""
        n_chains, n_draws = (posterior.sizes[d] for d in SAMPLE_DIMS)
        draws = stacked(posterior, self.value_names, [float] * len(self.value_names))
        shared = [shared_data[v.name] if v.name in shared_data else v.get_value(borrow=True) for v in self.shared]
        derived, used = {}, {}
        # float64, as nutpie stores every trace variable
        outs = per_draw_values(self.fn(*draws, *shared), self.per_draw, n_chains * n_draws)
        for name, out in zip(self.names, outs, strict=True):
            shape = out.shape[1:]
            dims = self.dims.get(name) or tuple(f"{name}_dim_{i}" for i in range(len(shape)))
            derived[name] = ((*SAMPLE_DIMS, *dims), out.reshape(n_chains, n_draws, *shape))
            used.update({d: np.asarray(coords[d]) for d in dims if d in coords})
        return posterior.assign_coords(used).assign(derived)


def _unwrapped(var):
    """A deterministic without PyMC's ``ViewOp`` around it: vectorised, that identity would run once per draw."""
    return var.owner.inputs[0] if var.owner is not None and isinstance(var.owner.op, ViewOp) else var


def expander(model: pm.Model) -> Expander:
    """The :class:`Expander` of ``model``'s trace: what nutpie's expand function computes from the value variables."""
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    value_names = {v.name for v in values}
    derived = [v for v in model.unobserved_value_vars if v.name not in value_names]  # as nutpie's _make_functions
    one_draw = [_unwrapped(v) for v in derived]
    shared = tuple(shared_inputs(one_draw))
    stand_ins = [v.type(name=v.name) for v in shared]  # inputs in place of the shared variables: values per call
    batched, all_draws, per_draw = vectorised(one_draw, values, dict(zip(shared, stand_ins, strict=True)))
    fn = pytensor.function(batched + stand_ins, all_draws, mode=_NUMPY_AS_WRITTEN, on_unused_input="ignore")
    fold_variadic(fn)  # a model's own a + b + c, should it write one
    return Expander(
        fn=fn,
        value_names=tuple(v.name for v in values),
        names=tuple(v.name for v in derived),
        per_draw=tuple(per_draw),
        dims={k: tuple(v) for k, v in model.named_vars_to_dims.items() if v},
        shared=shared,
    )
