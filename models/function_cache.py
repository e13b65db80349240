"""Compiled PyTensor functions of a model structure, pickled for the next job of the same structure.

Building a function of all draws (PyMC's graph, its vectorisation, PyTensor's rewrites) costs 0.3-0.6 s of every fit
job, the same for every prior set of a model: the prior sets differ only in ``pm.Data`` values. So a built function
is pickled beside PyTensor's compile cache under a key of the model's structure and constants (:func:`model_key`,
plus what the caller adds), and a later job loads it (0.02 s) and gives it its own model's ``pm.Data`` values by
name. Random generators in a function (forward draws) are left for the caller to seed.

Used by :mod:`models.log_density` (pointwise log densities) and :mod:`models.sampling` (prior draws).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import pickle
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pymc as pm
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import graph_inputs

log = logging.getLogger(__name__)
SOURCE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()  # this module's code: how entries are kept


def entry_key(model: pm.Model, *parts) -> str:
    """An entry's file name: :func:`model_key` of ``model`` and the caller's ``parts`` (its :func:`recipe`, and
    whatever else the function depends on)."""
    return hashlib.sha256(repr((model_key(model), *parts)).encode()).hexdigest()[:32]


def recipe(*functions) -> str:
    """A hash of the code that builds an entry (``functions``' source) and of this module (how entries are kept):
    part of every key, so an entry built by other code is never loaded."""
    return hashlib.sha256(("".join(inspect.getsource(f) for f in functions) + SOURCE).encode()).hexdigest()


def model_key(model: pm.Model) -> str:
    """What a function of the model depends on besides its own recipe: the model's structure
    (:func:`models.compile.structure_key`: its generative graph, transforms, data shapes, library versions) and the
    values of its constants (data given as arrays rather than ``pm.Data``, which a compiled function holds)."""
    from models.compile import structure_key

    roots = model.basic_RVs + model.deterministics + model.potentials
    roots += [model.rvs_to_values[rv] for rv in model.observed_RVs]
    constants = sorted(
        hashlib.sha256(repr((str(c.type), _value_bytes(c.data))).encode()).hexdigest()
        for c in graph_inputs(roots) if isinstance(c, Constant)
    )  # fmt: skip
    return hashlib.sha256(repr((structure_key(model), constants)).encode()).hexdigest()


def _value_bytes(value) -> bytes | str:
    """A constant's value as bytes (numbers) or its repr without memory addresses (None, slices and other objects,
    whose array would hold their address)."""
    array = np.asarray(value)
    return array.tobytes() if array.dtype.kind in "biufc" else re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))


def shared_by_name(model: pm.Model) -> dict:
    """The model's named shared variables: ``pm.Data`` and the lengths of resizable dimensions (graphs derived from
    the model, e.g. ``remove_value_transforms(model)``'s, read copies of some of them under the same names)."""
    from pytensor.compile import SharedVariable

    lengths = {name: v for name, v in model.dim_lengths.items() if isinstance(v, SharedVariable)}
    return lengths | {v.name: v for v in model.data_vars}


def is_generator(variable) -> bool:
    """A random generator's shared variable (seeded by the caller, never matched by name)."""
    from pytensor.tensor.random.type import RandomGeneratorType

    return isinstance(variable.type, RandomGeneratorType)


def load_or_build(path: Path, data: dict, build: Callable[[], dict], expect: dict, what: str) -> dict:
    """The entry (``{"fn": compiled function, ...}``) at ``path``, or ``build()``'s, stored there for the next job.

    A loaded entry must hold ``expect``'s values (e.g. the names of its outputs) and read, besides random generators,
    only shared variables named in ``data``, whose values it is given. A built function that reads a shared
    variable not in ``data``, or one with another value, is not stored (it would be wrong for another model). An
    entry that cannot be read is never trusted over building afresh."""
    try:
        with open(path, "rb") as handle:
            entry = pickle.load(handle)
        shared = [v for v in entry["fn"].get_shared() if not is_generator(v)]
        if any(entry.get(k) != v for k, v in expect.items()) or not all(v.name in data for v in shared):
            raise ValueError(f"{path}: its outputs or shared inputs are not this model's")
        for v in shared:
            v.set_value(data[v.name].get_value(borrow=True), borrow=True)
        return entry
    except FileNotFoundError:
        pass
    except Exception as err:
        log.warning("%s cache entry not used (%s); building the function", what, err)
    entry = build() | expect
    shared = [v for v in entry["fn"].get_shared() if not is_generator(v)]
    if all(v.name in data and _same_value(v, data[v.name]) for v in shared):
        _store(path, entry, what)
    return entry


def _same_value(a, b) -> bool:
    x, y = a.get_value(borrow=True), b.get_value(borrow=True)
    return a.type == b.type and np.shape(x) == np.shape(y) and np.array_equal(x, y)


def _store(path: Path, entry: dict, what: str) -> None:
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
        log.warning("%s function not cached (%s)", what, err)
        Path(handle.name).unlink(missing_ok=True)
    finally:
        for node, gufunc in zip(nodes, kept, strict=True):
            node.tag.gufunc = gufunc
