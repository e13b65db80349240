"""Log-likelihood of one published observation given the row's population correlation.

Two sampling models for the sample r (config ``track_a.likelihood``):

* ``fisher_z``: atanh(r) ~ Normal(atanh(rho), sd), sd = sqrt(1 / (n_eff - 3) + extra_sd^2);
* ``exact``: Hotelling's exact density of r given rho and n_eff (``models.exact_r``).

A point row contributes a density; an interval row contributes log P(r in [lo1, hi1] or [lo2, hi2]),
the second interval being empty (lo2 == hi2) when the sign is known. Both branches are evaluated for
every row and selected with ``switch``, so unused branches get safe dummy inputs (no NaN gradients).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from models import exact_r

LIKELIHOODS = ("fisher_z", "exact")
_SAFE_LO, _SAFE_HI = -0.5, 0.5  # dummy interval for point rows


def _log_phi(x):
    """log Phi(x), with value and gradient finite in the far lower tail.

    Below x = -1 it uses log Phi(x) = log(erfcx(-x/sqrt 2) / 2) - x^2/2 (log(erfc) underflows for
    x < -38 and its gradient is NaN there); each branch gets an input clipped to its own range, so
    the unused branch of the switch cannot produce inf/NaN gradients.
    """
    x_lo, x_hi = pt.minimum(x, -1.0), pt.maximum(x, -1.0)
    tail = pt.log(0.5 * pt.erfcx(-x_lo / np.sqrt(2.0))) - 0.5 * pt.sqr(x_lo)
    bulk = pt.log1p(-0.5 * pt.erfc(x_hi / np.sqrt(2.0)))
    return pt.switch(x < -1.0, tail, bulk)


def _log_normal_interval(a, b, mu, sd):
    """log(Phi((b - mu)/sd) - Phi((a - mu)/sd)), stable in both tails (reflects the upper tail)."""
    za, zb = (a - mu) / sd, (b - mu) / sd
    upper = za > 0
    lo, hi = pt.switch(upper, -zb, za), pt.switch(upper, -za, zb)
    # log(Phi(hi) - Phi(lo)) = log Phi(hi) + log1mexp(log Phi(lo) - log Phi(hi))
    return _log_phi(hi) + pt.log1mexp(_log_phi(lo) - _log_phi(hi))


def _atanh(r):
    return pt.arctanh(pt.clip(r, -0.999999, 0.999999))


def observation_logp(z, r_obs, is_point, lo1, hi1, lo2, hi2, has_second, n_eff, extra_sd, likelihood):
    """Pointwise log-likelihood (vector over rows) on the Fisher-z or the exact scale.

    ``z`` is atanh(rho) per row; the other arguments are numpy arrays or tensors from
    :func:`models.evidence.build_observations`.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood={likelihood!r}; expected one of {LIKELIHOODS}")
    safe_r = pt.switch(is_point, r_obs, 0.0)
    lo1s, hi1s = pt.switch(is_point, _SAFE_LO, lo1), pt.switch(is_point, _SAFE_HI, hi1)
    lo2s, hi2s = pt.switch(has_second, lo2, _SAFE_LO), pt.switch(has_second, hi2, _SAFE_HI)
    if likelihood == "fisher_z":
        sd = pt.sqrt(1.0 / (n_eff - 3.0) + extra_sd**2)
        # density of r itself (Jacobian of atanh), so pointwise log-likelihoods compare across likelihoods
        point = -0.5 * ((_atanh(safe_r) - z) / sd) ** 2 - pt.log(sd) - 0.5 * np.log(2 * np.pi) - pt.log1p(-(safe_r**2))
        first = _log_normal_interval(_atanh(lo1s), _atanh(hi1s), z, sd)
        second = _log_normal_interval(_atanh(lo2s), _atanh(hi2s), z, sd)
    else:
        rho = pt.tanh(pt.clip(z, -15.0, 15.0))  # |rho| = 1 exactly would make the density NaN
        # extra_sd (approximate statistics) enters as a smaller effective n with the same z variance
        n_x = 3.0 + 1.0 / (1.0 / (n_eff - 3.0) + extra_sd**2)
        point = exact_r.log_density(safe_r, rho, n_x)
        first = exact_r.log_prob_interval(lo1s, hi1s, rho, n_x)
        second = exact_r.log_prob_interval(lo2s, hi2s, rho, n_x)
    interval = pt.switch(has_second, pt.logaddexp(first, second), first)
    return pt.switch(is_point, point, interval)
