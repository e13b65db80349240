"""Pointwise log-likelihood and log prior, evaluated by nutpie's compiled code while it samples.

LOO needs the log-likelihood of every observation at every draw, and power-scaling sensitivity the log
prior of every free variable; nutpie stores neither. Computing them afterwards with PyMC
(``pm.compute_log_likelihood`` and ``pm.compute_log_prior``) rewrites and compiles two more functions and
calls them once per draw from Python. Here the model nutpie compiles carries them as extra deterministics
instead, which nutpie's compiled "expand" function evaluates for every kept draw; :func:`split` then moves
them out of the posterior into their own groups under the names, dims and values PyMC's functions give
(``tests/test_log_density.py`` compares them). Measured on the 2-core machine (2026-12-01, 4 alternating
runs of each fit job, warm cache): Track A 11.6 -> 10.9 s wall, a PTSD outcome model 11.1 -> 10.8 s.
"""

from __future__ import annotations

import contextlib

import arviz as az
import pymc as pm

# prefixes of the extra deterministics, and the InferenceData group each set ends up in
GROUPS = {"__loglik__": "log_likelihood", "__logprior__": "log_prior"}


@contextlib.contextmanager
def as_deterministics(model: pm.Model):
    """``model`` with its elementwise log densities as deterministics while the block runs; removed after.

    The log prior is each free variable's density on its constrained scale without Jacobian, as
    ``pm.compute_log_prior`` defines it. The model is restored even when the block raises, so prior and
    posterior predictive draws made from it later never see these variables.
    """
    (lik_prefix, _), (prior_prefix, _) = GROUPS.items()
    # Written in terms of the random variables, as any deterministic is: PyMC then substitutes the sampler's
    # values (constrained, through each transform) as it does for every other deterministic.
    terms = [(lik_prefix, rv, pm.logp(rv, model.rvs_to_values[rv], warn_rvs=False)) for rv in model.observed_RVs]
    terms += [(prior_prefix, rv, pm.logp(rv, rv, warn_rvs=False)) for rv in model.free_RVs]
    added = []
    try:
        with model:
            for prefix, rv, term in terms:
                added.append(pm.Deterministic(prefix + rv.name, term, dims=model.named_vars_to_dims.get(rv.name)))
        yield model
    finally:
        for var in added:  # PyMC has no public way to remove a variable: undo what pm.Deterministic registered
            model.deterministics.remove(var)
            del model.named_vars[var.name]
            model.named_vars_to_dims.pop(var.name, None)


def split(idata: az.InferenceData) -> az.InferenceData:
    """Move the log-density deterministics of :func:`as_deterministics` from the posterior to their groups."""
    post = idata.posterior
    moved = []
    for prefix, group in GROUPS.items():
        names = [n for n in post.data_vars if str(n).startswith(prefix)]
        if names:
            idata.add_groups({group: post[names].rename({n: str(n)[len(prefix) :] for n in names})})
            moved += names
    idata.posterior = post.drop_vars(moved)
    return idata
