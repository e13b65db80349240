"""Draw from a model's posterior (nutpie or PyMC's NUTS) and prior, with the pointwise log-likelihood.

nutpie does not store the pointwise log-likelihood, so it is always computed afterwards: LOO must never
disappear because of the choice of sampler.

A fit is first sampled with the ordinary settings; only when its draws fail the convergence gate is it
sampled again, once, with the stricter ``retry`` settings (longer chains, higher target acceptance), which
the gate then judges like any other fit. Most fits pass the first time and cost about a third of the strict
settings' sampling; one that does not costs the first attempt on top of what every fit used to.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import arviz as az
import numpy as np
import pymc as pm
import pytensor
import xarray as xr

from models.all_draws import fold_variadic
from models.function_cache import entry_key, load_or_build, recipe, shared_by_name
from models.log_density import log_densities

BACKENDS = ("nutpie", "pymc")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamplerSettings:
    backend: str = "nutpie"
    chains: int = 4
    draws: int = 2000  # the defaults are the config schema's first attempt
    tune: int = 500
    target_accept: float = 0.99
    prior_draws: int = 2000
    gradient: str = "handwritten"  # nutpie only: a model's hand-written gradient where it has one (models.compile)
    cores: int = 1
    retry: Mapping | None = None  # draws / tune / target_accept of the second attempt; None: no second attempt

    @classmethod
    def from_config(cls, cfg: dict, cores: int = 1) -> SamplerSettings:
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg}, cores=cores)

    def attempts(self) -> list[SamplerSettings]:
        """The settings tried in order: these, then (if set) these with the retry values."""
        return [self] if not self.retry else [self, replace(self, **self.retry, retry=None)]


# failures of a draw set as the convergence gate words them; empty when the draws pass
Verdict = Callable[[az.InferenceData], list[str]]


def nutpie_draw(compiled) -> Callable[[SamplerSettings, int], az.InferenceData]:
    """(settings, seed) -> nutpie's draws from an already compiled model (for :func:`with_retry`)."""
    from models import nutpie_trace

    return lambda s, seed: nutpie_trace.sample(
        compiled, seed=seed, draws=s.draws, tune=s.tune, chains=s.chains, cores=max(s.cores, 1),
        target_accept=s.target_accept, progress_bar=False,
    )  # fmt: skip


def _sampler(model: pm.Model, backend: str, gradient: str) -> Callable[[SamplerSettings, int], az.InferenceData]:
    """A function (settings, seed) -> posterior draws; nutpie's model is compiled once for every attempt."""
    if backend == "nutpie":
        from models.compile import compile_nutpie

        return nutpie_draw(compile_nutpie(model, gradient))
    if backend == "pymc":

        def draw(s: SamplerSettings, seed: int) -> az.InferenceData:
            with model:
                return pm.sample(
                    draws=s.draws, tune=s.tune, chains=s.chains, cores=max(s.cores, 1), random_seed=seed,
                    target_accept=s.target_accept, progressbar=False, compute_convergence_checks=False,
                )  # fmt: skip

        return draw
    raise ValueError(f"sampler.backend={backend!r}; expected one of {BACKENDS}")


def with_retry(
    draw: Callable[[SamplerSettings, int], az.InferenceData], s: SamplerSettings, seed: int, verdict: Verdict | None
) -> az.InferenceData:
    """``draw(settings, seed)`` with ``s``; with a ``verdict`` (the gate's), draws that fail it are replaced by a
    second attempt with ``s.retry`` (same seed). The last attempt is kept whatever its verdict, for the gate to
    judge; ``attrs["sampler_attempts"]`` records every attempt's settings and failures.
    """
    record = []
    for settings in s.attempts():
        idata = draw(settings, seed)
        failures = verdict(idata) if verdict is not None else []
        record.append({k: getattr(settings, k) for k in ("draws", "tune", "target_accept")} | {"failures": failures})
        log.info("attempt %d (%s): %s", len(record), record[-1], "; ".join(failures) or "passes the gate")
        if not failures or verdict is None:
            break
    idata.attrs["sampler_attempts"] = json.dumps(record)
    return idata


def sample_posterior(
    model: pm.Model, s: SamplerSettings, seed: int, verdict: Verdict | None = None
) -> az.InferenceData:
    """Posterior draws (retried as :func:`with_retry` says) with pointwise log-likelihood and log prior."""
    idata = with_retry(_sampler(model, s.backend, s.gradient), s, seed, verdict)
    add_log_densities(idata, model)
    return idata


def forward_mode() -> dict:
    """``compile_kwargs`` for forward sampling (prior, SBC and posterior predictive draws): PyTensor's
    ``FAST_COMPILE`` (numpy, no code generation). Every forward-sampling graph is compiled in every cold run, once
    per model structure and set of variables, and a draw is a few numpy calls. Measured 2026-12-02 on the 2-core
    machine with PyMC's per-draw samplers (PTSD outcome model; empty / warm compile cache): 20 SBC prior draws
    0.7 / 0.09 s against numba's 13.6 / 0.3 s; 2,000 prior draws 0.6 / 0.6 s against 4.1 / 0.6 s; the posterior
    predictive of 8,000 draws 2.8 / 2.7 s against 5.6 / 2.3 s (both now vectorised: :func:`_draw_all`). A new dict
    per call: PyMC's sample_prior_predictive adds keys to the one it is given."""
    return {"mode": "FAST_COMPILE"}


def add_log_densities(idata: az.InferenceData, model: pm.Model) -> az.InferenceData:
    """Pointwise log-likelihood (for LOO) and log prior per draw and variable (for power-scaling sensitivity).

    nutpie stores neither, PyMC's NUTS only the first; both are computed from the posterior draws so
    LOO and the sensitivity check never depend on the choice of sampler (:mod:`models.log_density`: what
    ``pm.compute_log_likelihood`` and ``pm.compute_log_prior`` give, in one call over all draws).
    """
    missing = [g for g in ("log_likelihood", "log_prior") if g not in idata.groups()]
    if missing:
        groups = log_densities(idata, model)
        idata.add_groups({g: groups[g] for g in missing})
    return idata


def _draw_all(model: pm.Model, names: list[str], given: xr.Dataset, seed: int) -> list[np.ndarray]:
    """Draws of ``names`` for every (chain, draw) of ``given`` in one call: PyMC's ``vectorize_over_posterior``
    gives the forward-sampling graph a leading sample dimension, the free variables in ``given`` fixed to its draws
    and every other random variable drawn once per sample; numpy evaluates it (no code generation).

    PyMC's own forward samplers call a function of one draw once per draw: 2,000 prior draws of the PTSD outcome
    model took 0.75 s that way against 0.15 s here, its 8,000 posterior predictive draws 1.28 s against 0.22 s
    (2026-12-02, 2-core machine). The posterior predictive draws are the numbers PyMC's loop gives for the same
    seed, to rounding (tested); prior draws agree in distribution.
    """
    fn, _ = _forward_function(model, names, given, seed)
    fold_variadic(fn)
    return fn()


def _forward_function(model: pm.Model, names: list[str], given: xr.Dataset, seed: int) -> tuple:
    """(compiled function, its output graph) of :func:`_draw_all`'s draws, seeded with ``seed``."""
    from pymc.pytensorf import compile as compile_pymc
    from pymc.sampling.forward import vectorize_over_posterior

    fixed = [rv for rv in model.free_RVs if rv.name in given.data_vars]
    # copies: vectorize_over_posterior resizes only random variables that are not themselves among the outputs
    outputs = vectorize_over_posterior([model[n].copy() for n in names], given, input_rvs=fixed)
    return compile_pymc([], outputs, random_seed=seed, **forward_mode()), outputs


def sample_prior(model: pm.Model, draws: int, seed: int, cache: Path | None = None) -> az.InferenceData:
    """Prior draws of every free and deterministic variable (observations excluded), in the groups
    ``pm.sample_prior_predictive`` returns (prior, observed and constant data).

    The function of all draws is the one :func:`_draw_all` builds, and gives the same draws for the same seed. Built
    once per model structure and number of draws (0.4-0.6 s: vectorisation and rewrites), it is kept in the cache
    (``cache``: default beside PyTensor's compile cache; :mod:`models.function_cache`), so the fit jobs of the other
    prior sets load it with their own priors and seed it as PyMC's compile would.
    """
    from pymc.pytensorf import reseed_rngs

    names = [v.name for v in model.free_RVs + model.deterministics]
    folder = cache or Path(pytensor.config.compiledir) / "reanalysis-prior-draws"
    key = entry_key(model, names, draws, _PRIOR_RECIPE)
    entry = load_or_build(folder / f"{key}.pkl", shared_by_name(model), lambda: _prior_function(model, names, draws),
                          {"names": names, "draws": draws}, "prior-draw")  # fmt: skip
    fn = entry["fn"]
    shared = fn.get_shared()
    reseed_rngs([shared[i] for i in entry["generators"]], seed)  # what compile_pymc(random_seed=seed) does
    fold_variadic(fn)  # after the load: a node's tag is not pickled with it
    values = fn()
    return pm.to_inference_data(prior={n: v[0] for n, v in zip(names, values, strict=True)}, model=model)


def _prior_function(model: pm.Model, names: list[str], draws: int) -> dict:
    """``{"fn", "generators"}``: :func:`_draw_all`'s function of ``draws`` prior draws of ``names`` (one chain, no
    variable fixed), and the positions among its shared variables of the random generators, in the order PyMC's
    compile seeds them."""
    from pymc.pytensorf import collect_default_updates

    samples = xr.Dataset(coords={"chain": [0], "draw": np.arange(draws)})
    fn, outputs = _forward_function(model, names, samples, seed=0)
    generators = list(collect_default_updates(inputs=[], outputs=outputs))  # compile_pymc's own call and order
    shared = fn.get_shared()
    positions = [next((i for i, v in enumerate(shared) if v is g), None) for g in generators]
    if None in positions:
        raise RuntimeError("a random generator of the prior-draw graph is not among the compiled function's inputs")
    return {"fn": fn, "generators": positions}


def sample_posterior_predictive(idata: az.InferenceData, model: pm.Model, names: list[str], seed: int) -> None:
    """Adds a posterior_predictive group: ``names`` drawn given each posterior draw of the free variables (what
    ``pm.sample_posterior_predictive`` draws when the model's data are those the posterior was fitted to)."""
    values = _draw_all(model, names, idata.posterior, seed)
    arrays = dict(zip(names, values, strict=True))
    idata.extend(pm.to_inference_data(posterior_predictive=arrays, model=model, sample_dims=["chain", "draw"]))


# the code that builds and seeds the prior-draw function, part of its cache key
_PRIOR_RECIPE = recipe(_prior_function, _forward_function, sample_prior, forward_mode)


def fit(
    model: pm.Model, s: SamplerSettings, seed: int, predictive: tuple[str, ...] = (), verdict: Verdict | None = None
) -> az.InferenceData:
    """Posterior (with log-likelihood), prior draws and, for ``predictive`` variables, posterior predictive draws.

    ``verdict``: see :func:`sample_posterior` (retry of draws that fail the gate).
    """
    idata = sample_posterior(model, s, seed, verdict)
    idata.extend(sample_prior(model, s.prior_draws, seed + 1))
    if predictive:
        sample_posterior_predictive(idata, model, list(predictive), seed + 2)
    return idata
