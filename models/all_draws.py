"""Functions of all posterior draws at once: a PyMC graph of one draw given a leading draw dimension.

Used for the pointwise log densities (:mod:`models.log_density`) and the trace variables nutpie's expand function
would have computed draw by draw (:mod:`models.posterior_expand`): one call over all draws, by numpy.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
import xarray as xr
from pytensor.graph.replace import vectorize_graph

SAMPLE_DIMS = ("chain", "draw")


class _Fold:
    """``ufunc(ufunc(a, b), c) ...`` over any number of arrays, left to right, as the stand-in for what PyTensor's
    Elemwise runs for an n-ary addition or product."""

    nout = 1

    def __init__(self, ufunc: np.ufunc):
        self.ufunc = ufunc

    def __call__(self, first, *rest):
        out = np.asarray(first)
        for x in rest:
            out = self.ufunc(out, x)
        return out


def fold_variadic(fn):
    """Run ``fn``'s additions and products of more than two float64 arrays as numpy's binary ufuncs, left to right.

    PyTensor's rewrites (FAST_COMPILE's canonicalisation) merge ``a + b + c`` into one n-ary ``Add``, and its numpy
    implementation of an n-ary scalar op is ``np.frompyfunc``: a Python call per element (``sum(inputs)``, and
    ``np.prod(inputs)`` for ``Mul``). The log densities of a fit job's 8,000 draws made 1.3 million of them in a
    prior edit's 4 fits (0.85 s of profile). The left fold is what those Python calls compute, in the same IEEE
    double arithmetic, so the values are the same bits (tested). Only float64 nodes: Python's scalars are doubles.
    Returns how many nodes it changed; applies to a compiled function's nodes, so after every compile or load."""
    from pytensor.scalar.basic import Add, Mul
    from pytensor.tensor.elemwise import Elemwise

    changed = 0
    for node in fn.maker.fgraph.apply_nodes:
        op = node.op
        if (
            isinstance(op, Elemwise)
            and isinstance(op.scalar_op, Add | Mul)
            and len(node.inputs) > 2
            and all(v.dtype == "float64" for v in node.inputs + node.outputs)
        ):
            node.tag.ufunc = _Fold(np.add if isinstance(op.scalar_op, Add) else np.multiply)
            changed += 1
    return changed


def vectorised(one_draw: list, values: list, replace: dict | None = None) -> tuple[list, list, list[bool]]:
    """``(inputs, outputs, per_draw)``: ``one_draw`` (outputs of one draw of ``values``) as a graph of the inputs,
    one per value with the draws first; ``replace`` also substitutes other variables. ``per_draw``: whether each
    output varies by draw (an output that depends on no value has no draw dimension)."""
    inputs = [pt.tensor(dtype=v.dtype, shape=(None, *v.type.shape), name=v.name) for v in values]
    outputs = vectorize_graph(one_draw, replace=dict(zip(values, inputs, strict=True)) | (replace or {}))
    return inputs, outputs, [a.ndim == b.ndim + 1 for a, b in zip(outputs, one_draw, strict=True)]


def stacked(posterior: xr.Dataset, names, dtypes) -> list[np.ndarray]:
    """Each variable's draws with chain and draw stacked into one leading dimension (chain-major), contiguous."""
    arrays = []
    for name, dtype in zip(names, dtypes, strict=True):
        values = posterior[name].transpose(*SAMPLE_DIMS, ...).values
        arrays.append(np.ascontiguousarray(values.reshape(-1, *values.shape[2:]), dtype=dtype))
    return arrays


def per_draw_values(outputs, per_draw, n_draws: int) -> list[np.ndarray]:
    """The function's outputs as float arrays with ``n_draws`` first; one that is the same for every draw repeated
    (as a broadcast view)."""
    return [
        np.asarray(value, dtype=float) if varies
        else np.broadcast_to(np.asarray(value, dtype=float), (n_draws, *np.shape(value)))
        for varies, value in zip(per_draw, outputs, strict=True)
    ]  # fmt: skip
