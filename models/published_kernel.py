"""Hand-written log density and gradient of the Track A model (Fisher-z likelihood), for nutpie.

PyTensor's numba backend runs the model's gradient graph node by node, allocating an array at each of its
115 nodes: 9-10 us per gradient for 34 parameters and 14 rows, most of it allocation, so that a Track A fit
spends 90% of its sampling time there. :func:`logp_dlogp` computes the same log density and gradient in one
loop over the rows (measured in ``bench/``).

It is a second implementation of :func:`models.published.build_published_model`, which stays the model's
definition. So the first time nutpie compiles a model structure with this kernel,
:func:`models.compile.verify_kernel` compares the two on random points and stops the fit if they disagree
(``KernelMismatch``), recording a pass for that structure and kernel;
``sampler.gradient: pytensor`` in config samples with PyTensor's own gradient instead. Row kinds, group
indices and positions of the parameters are structure, fixed per compiled model (:class:`KernelLayout`);
priors and observations are read from the model's ``pm.Data`` on every call, so ``with_data`` (prior sets,
SBC replicates) keeps working.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from models.compile import KernelMismatch, compile_kernel, erfcx_scalar, value_positions

_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_LOG_HALFNORMAL = 0.5 * math.log(2.0 / math.pi)
_SQRT2 = math.sqrt(2.0)
_LOG_HALF = math.log(0.5)
POINT, ONE_SIDED, TWO_SIDED = 0, 1, 2
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_DIRECT_MIN, _DIRECT_CANCEL = -20.0, 1e-3  # where _log_interval may subtract the CDFs

_erfcx = numba.njit(erfcx_scalar, cache=True)


@numba.njit(cache=True)
def _log_phi(x):
    """log Phi(x), by the same two branches as models.likelihoods._log_phi."""
    if x < -1.0:
        return math.log(0.5 * _erfcx(-x / _SQRT2)) - 0.5 * x * x
    return math.log1p(-0.5 * math.erfc(x / _SQRT2))


@numba.njit(cache=True)
def _log1mexp(d):
    """log(1 - exp(d)) for d <= 0, as PyTensor's log1mexp."""
    if d < _LOG_HALF:
        return math.log1p(-math.exp(d))
    return math.log(-math.expm1(d))


@numba.njit(cache=True)
def _log_interval(a, b, mu, sd):
    """(log P(a < Y < b), its derivative in mu) for Y ~ Normal(mu, sd), reflected in the upper tail."""
    za, zb = (a - mu) / sd, (b - mu) / sd
    if za > 0.0:  # upper tail: P = Phi(-za) - Phi(-zb); d(-z)/dmu = +1/sd
        lo, hi, sign = -zb, -za, 1.0
    else:
        lo, hi, sign = za, zb, -1.0
    # dlp/dhi = phi(hi)/P, dlp/dlo = -phi(lo)/P, both bounds moving with mu at the same rate sign/sd
    if hi > _DIRECT_MIN:  # P from the two CDFs directly: 5 transcendental calls instead of 8
        cdf_hi = 0.5 * math.erfc(-hi / _SQRT2)
        p = cdf_hi - 0.5 * math.erfc(-lo / _SQRT2)
        if p > _DIRECT_CANCEL * cdf_hi:  # at most 3 of the 16 digits cancelled (relative error < 1e-12)
            density = (math.exp(-0.5 * hi * hi) - math.exp(-0.5 * lo * lo)) / _SQRT_2PI
            return math.log(p), sign * density / (p * sd)
    log_hi = _log_phi(hi)
    lp = log_hi + _log1mexp(_log_phi(lo) - log_hi)  # in the log domain: far tails and narrow intervals
    ratio_hi = math.exp(-0.5 * hi * hi - _LOG_2PI_HALF - lp)
    ratio_lo = math.exp(-0.5 * lo * lo - _LOG_2PI_HALF - lp)
    return lp, sign * (ratio_hi - ratio_lo) / sd


@numba.njit(cache=True)
def _row_logp(kind, z, z_obs, z_lo1, z_hi1, z_lo2, z_hi2, has_second, sd, log_norm):
    """(log-likelihood of one row, its derivative in the row's z) as models.likelihoods.partitioned_fisher_logp,
    from the z-scale inputs of models.likelihoods.fisher_data."""
    if kind == POINT:
        y = (z_obs - z) / sd
        return -0.5 * y * y + log_norm, y / sd
    first, d_first = _log_interval(z_lo1, z_hi1, z, sd)
    if kind == ONE_SIDED or not has_second > 0.5:
        return first, d_first
    second, d_second = _log_interval(z_lo2, z_hi2, z, sd)
    top = max(first, second)
    lp = top + math.log1p(math.exp(-abs(first - second)))
    return lp, math.exp(first - lp) * d_first + math.exp(second - lp) * d_second


@numba.njit(cache=True)
def logp_dlogp(
    x, kinds, group_index, n_levels, mu_at, log_sigma_at, offsets_at, residual_at,
    mu_mean, mu_sd, sigma_scale, z_obs, z_lo1, z_hi1, z_lo2, z_hi2, has_second, sd, log_norm,
):  # fmt: skip
    """Joint log density of the unconstrained parameters ``x`` (as nutpie orders them) and its gradient.

    Layout (ints, see :class:`KernelLayout`): ``kinds[i]`` row kind; ``group_index[g, i]`` level of row i in
    grouping term g, which has ``n_levels[g]`` levels; positions in ``x`` of mu, of log sigma per term
    (residual last), of each term's first offset and of the first row residual. ``sigma_scale``: one
    half-normal scale per term, residual last.
    """
    grad = np.zeros_like(x)
    n_terms, n_rows = group_index.shape
    mu = x[mu_at]
    # priors: Normal mu; HalfNormal sigma on the log scale (+ log Jacobian); Normal(0, 1) offsets and residuals
    dev = (mu - mu_mean) / mu_sd
    logp = -0.5 * dev * dev - math.log(mu_sd) - _LOG_2PI_HALF
    grad[mu_at] = -dev / mu_sd
    work = np.empty(2 * (n_terms + 1))  # one allocation per call for the sigmas and their gradients
    sigma, d_sigma = work[: n_terms + 1], work[n_terms + 1 :]
    for g in range(n_terms + 1):
        u = x[log_sigma_at[g]]
        sigma[g] = math.exp(u)
        s = sigma[g] / sigma_scale[g]
        logp += _LOG_HALFNORMAL - math.log(sigma_scale[g]) - 0.5 * s * s + u
        grad[log_sigma_at[g]] = 1.0 - s * s
    for g in range(n_terms):
        for k in range(offsets_at[g], offsets_at[g] + n_levels[g]):
            logp += -0.5 * x[k] * x[k] - _LOG_2PI_HALF
            grad[k] = -x[k]
    for i in range(n_rows):
        e = x[residual_at + i]
        logp += -0.5 * e * e - _LOG_2PI_HALF
        grad[residual_at + i] = -e
    # likelihood: z_i = mu + sum_g sigma_g a_g[level] + sigma_res e_i
    d_sigma[:] = 0.0
    for i in range(n_rows):
        z = mu
        for g in range(n_terms):
            z += sigma[g] * x[offsets_at[g] + group_index[g, i]]
        e = x[residual_at + i]
        z += sigma[n_terms] * e
        lp, dz = _row_logp(
            kinds[i], z, z_obs[i], z_lo1[i], z_hi1[i], z_lo2[i], z_hi2[i], has_second[i], sd[i], log_norm[i]
        )
        logp += lp
        grad[mu_at] += dz
        for g in range(n_terms):
            k = offsets_at[g] + group_index[g, i]
            grad[k] += dz * sigma[g]
            d_sigma[g] += dz * x[k]
        grad[residual_at + i] += dz * sigma[n_terms]
        d_sigma[n_terms] += dz * e
    for g in range(n_terms + 1):
        grad[log_sigma_at[g]] += d_sigma[g] * sigma[g]  # d sigma / d log sigma = sigma
    return logp, grad


# names of the pm.Data containers the kernel reads, in its argument order (models.published)
_OBSERVATIONS = ("z_obs", "z_lo1", "z_hi1", "z_lo2", "z_hi2", "has_second", "sd", "log_norm")
# part of the cache key: the kernel's code and the erfcx it calls are compiled into the cached wrapper
_SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes() + inspect.getsource(erfcx_scalar).encode()).hexdigest()


@dataclass(frozen=True)
class KernelLayout:
    """The structure the kernel is specialised to: row kinds, group indices, positions of parameters in x."""

    terms: tuple[str, ...]
    kinds: np.ndarray
    group_index: np.ndarray  # (terms, rows)
    n_levels: np.ndarray
    mu_at: int
    log_sigma_at: np.ndarray  # per term, residual last
    offsets_at: np.ndarray
    residual_at: int

    @classmethod
    def from_model(cls, model, data) -> KernelLayout:
        """From a Track A model and its :class:`models.published.PublishedData` (positions as nutpie joins them)."""
        terms = tuple(g for g in data.coords if g != "row")
        n_rows = len(data.coords["row"])
        kinds = np.full(n_rows, POINT, dtype=np.int64)
        kinds[data.layout.one_sided] = ONE_SIDED
        kinds[data.layout.two_sided] = TWO_SIDED
        size = {"mu": 1, "e_residual": n_rows}
        size |= {f"sigma_{g}_log__": 1 for g in (*terms, "residual")} | {f"a_{g}": len(data.coords[g]) for g in terms}
        at = value_positions(model, size, "Track A")
        sigma_names = [f"sigma_{g}_log__" for g in terms] + ["sigma_residual_log__"]
        return cls(
            terms=terms,
            kinds=kinds,
            group_index=np.stack([np.asarray(data.group_index[g], dtype=np.int64) for g in terms]),
            n_levels=np.array([len(data.coords[g]) for g in terms], dtype=np.int64),
            mu_at=at["mu"],
            log_sigma_at=np.array([at[n] for n in sigma_names], dtype=np.int64),
            offsets_at=np.array([at[f"a_{g}"] for g in terms], dtype=np.int64),
            residual_at=at["e_residual"],
        )

    def key(self, shared_names) -> str:
        parts = [_SOURCE_HASH, self.terms, tuple(shared_names), self.mu_at, self.residual_at]
        parts += [
            a.tobytes() for a in (self.kinds, self.group_index, self.n_levels, self.log_sigma_at, self.offsets_at)
        ]
        return hashlib.sha256(repr(parts).encode()).hexdigest()


_WRAPPER_SRC = """
def track_a_logp_dlogp({args}):
    return logp_dlogp(
        x, KINDS, GROUP_INDEX, N_LEVELS, MU_AT, LOG_SIGMA_AT, OFFSETS_AT, RESIDUAL_AT,
        prior_mu_mean[()], prior_mu_sd[()], ({scales},), {observations}
    )
"""


def wrapper(layout: KernelLayout, shared_names):
    """A numba function with the signature of PyTensor's compiled logp-and-gradient, ``(x, *shared)`` in
    ``shared_names`` order, calling :func:`logp_dlogp`; stored in PyTensor's numba cache under the layout's key.

    A container the model's log density does not read (the second interval without sign-unknown rows) is
    not among ``shared_names``; the kernel then gets zeros there, which no row of that model reads.
    """
    names = list(shared_names)
    scales = [f"prior_sigma_{g}" for g in (*layout.terms, "residual")]
    missing = [n for n in ("prior_mu_mean", "prior_mu_sd", *scales) if n not in names]
    if missing:
        raise KernelMismatch(f"the model has no pm.Data {missing}; the kernel expects Track A's priors")
    observations = [f"obs_{n}" if f"obs_{n}" in names else "ZEROS" for n in _OBSERVATIONS]
    src = _WRAPPER_SRC.format(
        args=", ".join(["x", *names]),
        scales=", ".join(f"{s}[()]" for s in scales),
        observations=", ".join(observations),
    )
    env = {
        "__name__": __name__, "np": np, "logp_dlogp": logp_dlogp, "KINDS": layout.kinds,
        "GROUP_INDEX": layout.group_index, "N_LEVELS": layout.n_levels, "MU_AT": layout.mu_at,
        "LOG_SIGMA_AT": layout.log_sigma_at, "OFFSETS_AT": layout.offsets_at, "RESIDUAL_AT": layout.residual_at,
        "ZEROS": np.zeros(len(layout.kinds)),
    }  # fmt: skip
    return compile_kernel(src, "track_a_logp_dlogp", env, layout.key(names))


def gradient_for(data):
    """``(model, shared_names) -> kernel`` for :func:`models.compile.register_handwritten`: the kernel of a Track A
    model built from ``data`` (a :class:`models.published.PublishedData`)."""
    return lambda model, shared_names: wrapper(KernelLayout.from_model(model, data), shared_names)
