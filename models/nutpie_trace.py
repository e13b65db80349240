"""nutpie's draws as ArviZ InferenceData, built without ArviZ's ``from_dict``.

nutpie hands its trace over as Arrow record batches, one per chain, and converts them with ``az.from_dict``, which
builds each variable through copies and alignments of DataArrays: 0.065-0.085 s for a Track A fit (23 variables
and 13 sampler statistics, 4 x 2000 draws), in every fit attempt and SBC replicate, against 0.004-0.007 s for
building the same two Datasets directly (:func:`sample`). When the trace is not the plain case (chains of unequal
length, missing values, a variable whose dimensions have no coordinates) nutpie's own conversion is used.
tests/test_nutpie_trace.py holds both to nutpie's output.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr

# statistics nutpie's conversion leaves out unless sampling was asked to store them (its store_* settings, all
# off here), and the chain and draw counters, which are the coordinates
SKIPPED_STATS = frozenset({
    "gradient", "unconstrained_draw", "mass_matrix_inv", "mass_matrix_eigvals", "mass_matrix_stds",
    "divergence_start", "divergence_end", "divergence_momentum", "divergence_start_gradient", "chain", "draw",
})  # fmt: skip


def sample(compiled, **kwargs) -> az.InferenceData:
    """``nutpie.sample(compiled, **kwargs)`` without the warm-up draws, as InferenceData (posterior and
    sample_stats); see the module docstring. A model from :func:`models.compile.compile_nutpie` gets its
    constrained parameters and deterministics here (:mod:`models.posterior_expand`)."""
    import nutpie

    from models.posterior_expand import Expander

    trace = nutpie.sample(compiled, return_raw_trace=True, save_warmup=False, **kwargs)
    draws, stats = trace.get_arrow_trace()
    idata = to_inference_data(draws, stats, compiled.coords)
    expand = getattr(compiled, "expand_func", None)
    if isinstance(expand, Expander):
        idata.posterior = expand(idata.posterior, compiled.shared_data, compiled.coords)
    return idata


def to_inference_data(draws: list, stats: list, coords: dict) -> az.InferenceData:
    """The posterior and sample statistics of nutpie's per-chain record batches (tuning rows dropped)."""
    tuning = [int(np.asarray(batch.column("tuning").to_numpy()).sum()) for batch in stats]
    kept = {batch.num_rows - n for batch, n in zip(draws, tuning, strict=True)}
    posterior = _dataset(draws, tuning, set(), coords) if len(kept) == 1 else None
    sample_stats = _dataset(stats, tuning, SKIPPED_STATS, coords) if posterior is not None else None
    if posterior is None or sample_stats is None:
        return _nutpies_own(draws, stats, coords)
    return az.InferenceData(posterior=posterior, sample_stats=sample_stats)


def _dataset(batches: list, tuning: list[int], skip: set, coords: dict) -> xr.Dataset | None:
    """One group: each column's post-tuning rows of every chain, shaped (chain, draw, *item shape); None when a
    column has missing values or item dimensions without coordinates (nutpie's conversion handles those)."""
    import pyarrow

    origin = az.rcParams["data.index_origin"]
    variables, used = {}, {}
    for name in batches[0].column_names:
        if name in skip:
            continue
        meta = batches[0].column(name).field.metadata
        dims = meta[b"dims"].decode().split(",") if meta.get(b"dims") else []
        shape = [int(s) for s in meta[b"shape"].decode().split(",")] if meta.get(b"shape") else []
        if len(dims) != len(shape):
            return None
        if any(d not in coords or len(coords[d]) != n for d, n in zip(dims, shape, strict=True)):
            return None
        chains = []
        for batch, n in zip(batches, tuning, strict=True):
            column = pyarrow.array(batch.column(name))
            if column.null_count:
                return None
            column = column.slice(n)
            values = column.flatten() if hasattr(column, "flatten") else column
            chains.append(values.to_numpy(zero_copy_only=False).reshape(len(column), *shape))
        variables[name] = (("chain", "draw", *dims), np.stack(chains))
        used.update({d: coords[d] for d in dims})
    n_chains, n_draws = len(batches), batches[0].num_rows - tuning[0]
    index = {"chain": np.arange(origin, origin + n_chains), "draw": np.arange(origin, origin + n_draws)}
    return xr.Dataset(variables, coords=index | {d: np.asarray(v) for d, v in used.items()}, attrs=_attrs())


def _attrs() -> dict:
    from arviz.data.base import make_attrs

    return make_attrs()  # created_at and arviz_version, as from_dict gives each group


def _nutpies_own(draws: list, stats: list, coords: dict) -> az.InferenceData:
    import pandas as pd
    from nutpie.sample import _arrow_to_arviz

    skip = sorted(SKIPPED_STATS - {"chain", "draw"})  # as nutpie.sample passes them
    return _arrow_to_arviz(draws, stats, skip_vars=skip, coords={k: pd.Index(v) for k, v in coords.items()},
                           save_warmup=False)  # fmt: skip
