"""Hand-written log densities and gradients of the Track B models, for nutpie.

PyTensor's numba backend runs the outcome model's gradient graph node by node, allocating an array at
each node, so its fits, Student-t variants and SBC replicates spend most of their sampling there.
:func:`logp_dlogp` computes the same log density and gradient in a few loops over the participants' cells.
The alliance model (:func:`alliance_logp_dlogp`) samples quickly either way; its kernel is there because numba's
first compile of PyTensor's gradient graph (about 180 small functions) took 10-19 s of a cold run for each
cohort, against 1-2 s for the kernel's wrapper (2026-12-03, 2-core machine).

Like :mod:`models.published_kernel` each is a second implementation of a model whose definition stays the
PyMC one (:func:`models.participant.build_outcome_model`, :func:`~models.participant.build_alliance_model`): the
first time nutpie compiles a model structure
with it, :func:`models.compile.verify_kernel` compares the two on random points and stops the fit if they
disagree;
``sampler.gradient: pytensor`` samples with PyTensor's own gradient instead. The missing-data pattern and
the positions of the parameters are structure, fixed per compiled model (:class:`OutcomeLayout`,
:class:`AllianceLayout`); priors
and data are read from the model's ``pm.Data`` on every call, so ``with_data`` (prior sets, SBC
replicates, another cohort with the same pattern) keeps working.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from models.compile import KernelMismatch, compile_kernel, digamma_scalar, value_positions

_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_LOG_HALFNORMAL = 0.5 * math.log(2.0 / math.pi)
_LOG_PI = math.log(math.pi)

# positions in OutcomeLayout.at: where each parameter starts in nutpie's vector x (-1: not in this model)
(THETA, SIGMA_V, SIGMA_X, V_Z, X_MISSING, B_MISSING, ALPHA, BETA, GAMMA_MEAN, TAU, DELTA, SIGMA_U, U_Z, SIGMA,
 NU) = range(15)  # fmt: skip
_VALUE_VARS = ("theta_x", "sigma_v_log__", "sigma_x_log__", "v_z", "x_missing", "b_missing", "alpha", "beta",
               "gamma_mean", "tau_log__", "delta", "sigma_u_log__", "u_z", "sigma_log__", "nu_log__")  # fmt: skip
# positions in the tuple of prior hyperparameters, and the pm.Data each comes from (models.participant)
_PRIORS = ("prior_theta_sd", "prior_sigma_v", "prior_sigma_x", "prior_alpha_sd", "prior_beta_sd",
           "prior_gamma_mean", "prior_gamma_sd", "prior_tau", "prior_sigma_u", "prior_sigma", "prior_nu_alpha",
           "prior_nu_beta")  # fmt: skip
(P_THETA, P_SIGMA_V, P_SIGMA_X, P_ALPHA, P_BETA, P_GAMMA_MEAN, P_GAMMA_SD, P_TAU, P_SIGMA_U, P_SIGMA, P_NU_ALPHA,
 P_NU_BETA) = range(12)  # fmt: skip


digamma = numba.njit(digamma_scalar, cache=True)


@numba.njit(cache=True)
def _normal_priors(x, grad, start, count, mean, sd):
    """Log density of Normal(mean, sd) priors on x[start:start + count]; sets their gradient."""
    logp = 0.0
    for k in range(start, start + count):
        r = (x[k] - mean) / sd
        logp += -0.5 * r * r
        grad[k] = -r / sd
    return logp - count * (math.log(sd) + _LOG_2PI_HALF)


@numba.njit(cache=True)
def _half_normal_prior(x, grad, at, scale):
    """(log HalfNormal(exp(x[at]) | scale) + x[at], exp(x[at])): a positive parameter on the log scale, Jacobian
    included; sets its gradient."""
    sigma = math.exp(x[at])
    s = sigma / scale
    grad[at] = 1.0 - s * s
    return _LOG_HALFNORMAL - math.log(scale) - 0.5 * s * s + x[at], sigma


@numba.njit(cache=True)
def logp_dlogp(x, at, obs_index, mis_index, b_mis_index, y_i, y_t, hyper, x_data, b_data, y_data):
    """Joint log density of the unconstrained parameters ``x`` (as nutpie orders them) and its gradient.

    Structure (ints, see :class:`OutcomeLayout`): ``at`` the start of each parameter in ``x`` (indexed by
    THETA, SIGMA_V, ..., NU; -1 when absent); ``obs_index[i, a]`` the position in ``x_data`` of an observed
    alliance cell, ``mis_index[i, a]`` that of a missing one in ``x_missing`` (-1 otherwise);
    ``b_mis_index[i]`` the position of a missing baseline in ``b_missing`` (-1 when observed); ``y_i``/``y_t``
    the participant and follow-up of each observed outcome. ``hyper``: the priors, in ``_PRIORS`` order.
    """
    grad = np.zeros_like(x)
    n, n_a = obs_index.shape
    n_t = at[BETA] - at[ALPHA]
    # work arrays, one allocation: filled alliance, its gradient, filled baseline, its gradient, slopes, theirs
    work = np.zeros(2 * n * n_a + 2 * n + 2 * n_a * n_t)
    xm = work[: n * n_a].reshape((n, n_a))
    d_xm = work[n * n_a : 2 * n * n_a].reshape((n, n_a))
    b = work[2 * n * n_a : 2 * n * n_a + n]
    d_b = work[2 * n * n_a + n : 2 * n * n_a + 2 * n]
    gamma = work[2 * n * n_a + 2 * n : 2 * n * n_a + 2 * n + n_a * n_t].reshape((n_a, n_t))
    d_gamma = work[2 * n * n_a + 2 * n + n_a * n_t :].reshape((n_a, n_t))

    # priors of the alliance trajectory
    logp = _normal_priors(x, grad, at[THETA], n_a, 0.0, hyper[P_THETA])
    lp, sigma_v = _half_normal_prior(x, grad, at[SIGMA_V], hyper[P_SIGMA_V])
    logp += lp
    lp, sigma_x = _half_normal_prior(x, grad, at[SIGMA_X], hyper[P_SIGMA_X])
    logp += lp
    logp += _normal_priors(x, grad, at[V_Z], n, 0.0, 1.0)

    # trajectory density of every alliance cell, observed (x_observed) or missing (x_missing) alike; the
    # normalising terms once for all cells
    d_sigma_v, sum_r2 = 0.0, 0.0
    for i in range(n):
        v = x[at[V_Z] + i]
        for a in range(n_a):
            m = mis_index[i, a]
            xm[i, a] = x_data[obs_index[i, a]] if m < 0 else x[at[X_MISSING] + m]
            r = (xm[i, a] - x[at[THETA] + a] - sigma_v * v) / sigma_x
            sum_r2 += r * r
            d_mu = r / sigma_x
            grad[at[THETA] + a] += d_mu
            grad[at[V_Z] + i] += d_mu * sigma_v
            d_sigma_v += d_mu * v
            d_xm[i, a] = -d_mu
    logp += -0.5 * sum_r2 - n * n_a * (math.log(sigma_x) + _LOG_2PI_HALF)
    grad[at[SIGMA_X]] += sum_r2 - n * n_a  # d/d log sigma_x
    grad[at[SIGMA_V]] += d_sigma_v * sigma_v

    # baseline, missing entries imputed from Normal(0, 1)
    for i in range(n):
        j = b_mis_index[i]
        if j < 0:
            b[i] = b_data[i]
        else:
            b[i] = x[at[B_MISSING] + j]
            logp += -0.5 * b[i] * b[i] - _LOG_2PI_HALF
            d_b[i] = -b[i]

    # priors of the outcome regression
    logp += _normal_priors(x, grad, at[ALPHA], n_t, 0.0, hyper[P_ALPHA])
    logp += _normal_priors(x, grad, at[BETA], n_t, 0.0, hyper[P_BETA])
    logp += _normal_priors(x, grad, at[GAMMA_MEAN], 1, hyper[P_GAMMA_MEAN], hyper[P_GAMMA_SD])
    lp, tau = _half_normal_prior(x, grad, at[TAU], hyper[P_TAU])
    logp += lp
    logp += _normal_priors(x, grad, at[DELTA], n_a * n_t, 0.0, 1.0)
    gamma_mean = x[at[GAMMA_MEAN]]
    for k in range(n_a * n_t):
        gamma[k // n_t, k % n_t] = gamma_mean + tau * x[at[DELTA] + k]
    has_u = at[SIGMA_U] >= 0
    sigma_u = 0.0
    if has_u:
        lp, sigma_u = _half_normal_prior(x, grad, at[SIGMA_U], hyper[P_SIGMA_U])
        logp += lp
        logp += _normal_priors(x, grad, at[U_Z], n, 0.0, 1.0)
    lp, sigma = _half_normal_prior(x, grad, at[SIGMA], hyper[P_SIGMA])
    logp += lp
    student_t = at[NU] >= 0
    n_y = len(y_data)
    nu, d_nu, t_const = 0.0, 0.0, 0.0
    if student_t:  # nu ~ Gamma(alpha, beta) on the log scale; the likelihood's nu-only terms once per call
        nu = math.exp(x[at[NU]])
        shape, rate = hyper[P_NU_ALPHA], hyper[P_NU_BETA]
        logp += shape * math.log(rate) - math.lgamma(shape) + shape * x[at[NU]] - rate * nu
        grad[at[NU]] = shape - rate * nu
        t_const = math.lgamma(0.5 * (nu + 1.0)) - math.lgamma(0.5 * nu) - 0.5 * (math.log(nu) + _LOG_PI)
        d_nu = n_y * (0.5 * digamma(0.5 * (nu + 1.0)) - 0.5 * digamma(0.5 * nu) - 0.5 / nu)

    # outcome likelihood: y[i, t] ~ Normal or StudentT(alpha[t] + b[i] beta[t] + x[i] . gamma[:, t] + u[i], sigma);
    # the terms that do not depend on the cell once for all cells
    logp -= n_y * math.log(sigma)
    grad[at[SIGMA]] -= n_y
    if student_t:
        logp += n_y * t_const
    else:
        logp -= n_y * _LOG_2PI_HALF
    d_sigma_u = 0.0
    for k in range(n_y):
        i, t = y_i[k], y_t[k]
        mu = x[at[ALPHA] + t] + b[i] * x[at[BETA] + t]
        for a in range(n_a):
            mu += xm[i, a] * gamma[a, t]
        if has_u:
            mu += sigma_u * x[at[U_Z] + i]
        r = (y_data[k] - mu) / sigma
        if student_t:
            q = r * r / nu
            log1p_q = math.log1p(q)
            logp -= 0.5 * (nu + 1.0) * log1p_q
            w = (nu + 1.0) / (nu + r * r)  # d/dmu = w r / sigma, d/d log sigma = w r^2 (- 1 above)
            d_mu = w * r / sigma
            grad[at[SIGMA]] += w * r * r
            d_nu += -0.5 * log1p_q + 0.5 * w * q
        else:
            logp -= 0.5 * r * r
            d_mu = r / sigma
            grad[at[SIGMA]] += r * r
        grad[at[ALPHA] + t] += d_mu
        grad[at[BETA] + t] += d_mu * b[i]
        d_b[i] += d_mu * x[at[BETA] + t]
        for a in range(n_a):
            d_gamma[a, t] += d_mu * xm[i, a]
            d_xm[i, a] += d_mu * gamma[a, t]
        if has_u:
            grad[at[U_Z] + i] += d_mu * sigma_u
            d_sigma_u += d_mu * x[at[U_Z] + i]
    if student_t:
        grad[at[NU]] += d_nu * nu
    if has_u:
        grad[at[SIGMA_U]] += d_sigma_u * sigma_u

    # chain rule back to the free parameters: slopes, imputed alliance and baseline
    d_tau = 0.0
    for k in range(n_a * n_t):
        dg = d_gamma[k // n_t, k % n_t]
        grad[at[GAMMA_MEAN]] += dg
        grad[at[DELTA] + k] += dg * tau
        d_tau += dg * x[at[DELTA] + k]
    grad[at[TAU]] += d_tau * tau
    for i in range(n):
        for a in range(n_a):
            if mis_index[i, a] >= 0:
                grad[at[X_MISSING] + mis_index[i, a]] += d_xm[i, a]
        if b_mis_index[i] >= 0:
            grad[at[B_MISSING] + b_mis_index[i]] += d_b[i]
    return logp, grad


# part of the cache key: the kernel's code and the digamma it calls are compiled into the cached wrapper
_SOURCE_HASH = hashlib.sha256(Path(__file__).read_bytes() + inspect.getsource(digamma_scalar).encode()).hexdigest()


@dataclass(frozen=True)
class OutcomeLayout:
    """The structure the kernel is specialised to: positions of the parameters and the missing-data pattern."""

    at: np.ndarray  # (15,) start of each parameter in x, -1 when absent
    obs_index: np.ndarray  # (participants, alliance timepoints)
    mis_index: np.ndarray
    b_mis_index: np.ndarray  # (participants,)
    y_i: np.ndarray
    y_t: np.ndarray

    @classmethod
    def from_model(cls, model, data) -> OutcomeLayout:
        """From an outcome model and its :class:`models.participant.CohortData` (positions as nutpie joins them)."""
        n, n_a = data.alliance.shape
        n_t = data.followup.shape[1]
        x_obs, x_mis, b_mis = data.alliance_observed_cells, data.alliance_missing_cells, data.baseline_missing
        sizes = (n_a, 1, 1, n, len(x_mis[0]), len(b_mis), n_t, n_t, 1, 1, n_a * n_t, 1, n, 1, 1)
        size = dict(zip(_VALUE_VARS, sizes, strict=True))
        at = np.full(len(_VALUE_VARS), -1, dtype=np.int64)
        for name, start in value_positions(model, size, "Track B").items():
            at[_VALUE_VARS.index(name)] = start
        # the kernel reads alpha's length as the distance to beta, and the slopes' as (alliance, follow-up)
        if at[BETA] - at[ALPHA] != n_t or min(at[[THETA, SIGMA_V, SIGMA_X, V_Z, ALPHA, GAMMA_MEAN, TAU, SIGMA]]) < 0:
            raise KernelMismatch("the outcome model's parameters are not where the Track B kernel expects them")
        if (at[SIGMA_U] >= 0) != (n_t > 1) or (at[U_Z] >= 0) != (n_t > 1):
            raise KernelMismatch("the participant effect u is expected exactly when there is more than one follow-up")
        obs_index = np.full((n, n_a), -1, dtype=np.int64)
        obs_index[x_obs] = np.arange(len(x_obs[0]))
        mis_index = np.full((n, n_a), -1, dtype=np.int64)
        mis_index[x_mis] = np.arange(len(x_mis[0]))
        b_mis_index = np.full(n, -1, dtype=np.int64)
        b_mis_index[b_mis] = np.arange(len(b_mis))
        y_i, y_t = data.followup_observed_cells
        return cls(at, obs_index, mis_index, b_mis_index, y_i.astype(np.int64), y_t.astype(np.int64))

    def key(self, shared_names) -> str:
        parts = [_SOURCE_HASH, tuple(shared_names)]
        parts += [a.tobytes() for a in (self.at, self.obs_index, self.mis_index, self.b_mis_index, self.y_i, self.y_t)]
        return hashlib.sha256(repr(parts).encode()).hexdigest()


_WRAPPER_SRC = """
def track_b_logp_dlogp({args}):
    return logp_dlogp(
        x, AT, OBS_INDEX, MIS_INDEX, B_MIS_INDEX, Y_I, Y_T, ({priors},), x_data, b_data, y_data
    )
"""


def wrapper(layout: OutcomeLayout, shared_names):
    """A numba function with the signature of PyTensor's compiled logp-and-gradient, ``(x, *shared)`` in
    ``shared_names`` order, calling :func:`logp_dlogp`; stored in PyTensor's numba cache under the layout's key.

    A prior the model does not have (``prior_sigma_u`` with one follow-up, the Student-t ``prior_nu_*`` with
    normal residuals) is passed as 1.0, which the kernel never reads for that structure.
    """
    names = list(shared_names)
    needed = ["x_data", "b_data", "y_data", *_PRIORS[:8], "prior_sigma"]
    missing = [n for n in needed if n not in names]
    if missing:
        raise KernelMismatch(f"the model has no pm.Data {missing}; the kernel expects the Track B outcome model's")
    src = _WRAPPER_SRC.format(
        args=", ".join(["x", *names]), priors=", ".join(f"{p}[()]" if p in names else "1.0" for p in _PRIORS)
    )
    env = {
        "__name__": __name__, "np": np, "logp_dlogp": logp_dlogp, "AT": layout.at, "OBS_INDEX": layout.obs_index,
        "MIS_INDEX": layout.mis_index, "B_MIS_INDEX": layout.b_mis_index, "Y_I": layout.y_i, "Y_T": layout.y_t,
    }  # fmt: skip
    return compile_kernel(src, "track_b_logp_dlogp", env, layout.key(names))


def gradient_for(data):
    """``(model, shared_names) -> kernel`` for :func:`models.compile.register_handwritten`: the kernel of an outcome
    model built from ``data`` (a :class:`models.participant.CohortData`)."""
    return lambda model, shared_names: wrapper(OutcomeLayout.from_model(model, data), shared_names)


# ---- the alliance model -----------------------------------------------------------------------------------------


@numba.njit(cache=True)
def alliance_logp_dlogp(x, at, obs_i, obs_a, n, n_a, hyper, x_data, centre, spread):
    """Joint log density of the alliance model's unconstrained parameters ``x`` (as nutpie orders them) and its
    gradient: x[k] ~ Normal(theta[obs_a[k]] + sigma_v v_z[obs_i[k]], sigma_x) for each observed cell k.

    ``at``: the start of theta, log sigma_v, log sigma_x and v_z in ``x`` (:class:`AllianceLayout`); ``n``
    participants, ``n_a`` alliance timepoints. ``hyper``: prior_theta_sd, prior_sigma_v, prior_sigma_x, in units of
    ``spread`` (the observed alliance's SD); theta's prior is centred on ``centre``.
    """
    grad = np.zeros_like(x)
    logp = _normal_priors(x, grad, at[0], n_a, centre, hyper[0] * spread)
    lp, sigma_v = _half_normal_prior(x, grad, at[1], hyper[1] * spread)
    logp += lp
    lp, sigma_x = _half_normal_prior(x, grad, at[2], hyper[2] * spread)
    logp += lp
    logp += _normal_priors(x, grad, at[3], n, 0.0, 1.0)
    d_sigma_v, sum_r2 = 0.0, 0.0
    for k in range(len(x_data)):
        i, a = obs_i[k], obs_a[k]
        v = x[at[3] + i]
        r = (x_data[k] - x[at[0] + a] - sigma_v * v) / sigma_x
        sum_r2 += r * r
        d_mu = r / sigma_x
        grad[at[0] + a] += d_mu
        grad[at[3] + i] += d_mu * sigma_v
        d_sigma_v += d_mu * v
    n_obs = len(x_data)
    logp += -0.5 * sum_r2 - n_obs * (math.log(sigma_x) + _LOG_2PI_HALF)
    grad[at[2]] += sum_r2 - n_obs  # d/d log sigma_x
    grad[at[1]] += d_sigma_v * sigma_v
    return logp, grad


_ALLIANCE_VALUE_VARS = ("theta", "sigma_v_log__", "sigma_x_log__", "v_z")
_ALLIANCE_PRIORS = ("prior_theta_sd", "prior_sigma_v", "prior_sigma_x")


@dataclass(frozen=True)
class AllianceLayout:
    """The structure the alliance kernel is specialised to: positions of the parameters and the observed cells."""

    at: np.ndarray  # (4,) start of theta, log sigma_v, log sigma_x, v_z in x
    obs_i: np.ndarray  # participant of each observed cell (the order of pm.Data alliance_data)
    obs_a: np.ndarray  # its alliance timepoint
    n: int
    n_a: int

    @classmethod
    def from_model(cls, model, data) -> AllianceLayout:
        """From an alliance model and its :class:`models.participant.CohortData` (positions as nutpie joins them)."""
        n, n_a = data.alliance.shape
        size = dict(zip(_ALLIANCE_VALUE_VARS, (n_a, 1, 1, n), strict=True))
        at = value_positions(model, size, "alliance")
        if set(at) != set(size):
            raise KernelMismatch(f"the alliance model lacks {sorted(set(size) - set(at))}, which its kernel expects")
        obs_i, obs_a = data.alliance_observed_cells
        return cls(
            at=np.array([at[v] for v in _ALLIANCE_VALUE_VARS], dtype=np.int64),
            obs_i=np.asarray(obs_i, dtype=np.int64),
            obs_a=np.asarray(obs_a, dtype=np.int64),
            n=int(n),
            n_a=int(n_a),
        )

    def key(self, shared_names) -> str:
        parts = [_SOURCE_HASH, "alliance", tuple(shared_names), self.n, self.n_a]
        parts += [a.tobytes() for a in (self.at, self.obs_i, self.obs_a)]
        return hashlib.sha256(repr(parts).encode()).hexdigest()


_ALLIANCE_WRAPPER_SRC = """
def alliance_kernel({args}):
    return alliance_logp_dlogp(
        x, AT, OBS_I, OBS_A, N, N_A, ({priors},), alliance_data, alliance_centre[()], alliance_spread[()]
    )
"""


def alliance_wrapper(layout: AllianceLayout, shared_names):
    """As :func:`wrapper`, for the alliance model: ``(x, *shared)`` in ``shared_names`` order."""
    names = list(shared_names)
    missing = [n for n in ("alliance_data", "alliance_centre", "alliance_spread", *_ALLIANCE_PRIORS) if n not in names]
    if missing:
        raise KernelMismatch(f"the model has no pm.Data {missing}; the kernel expects the alliance model's")
    src = _ALLIANCE_WRAPPER_SRC.format(
        args=", ".join(["x", *names]), priors=", ".join(f"{p}[()]" for p in _ALLIANCE_PRIORS)
    )
    env = {
        "__name__": __name__, "alliance_logp_dlogp": alliance_logp_dlogp, "AT": layout.at, "OBS_I": layout.obs_i,
        "OBS_A": layout.obs_a, "N": layout.n, "N_A": layout.n_a,
    }  # fmt: skip
    return compile_kernel(src, "alliance_kernel", env, layout.key(names))


def alliance_gradient_for(data):
    """``(model, shared_names) -> kernel`` for :func:`models.compile.register_handwritten`: the kernel of an alliance
    model built from ``data`` (a :class:`models.participant.CohortData`)."""
    return lambda model, shared_names: alliance_wrapper(AllianceLayout.from_model(model, data), shared_names)
