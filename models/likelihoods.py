"""Log-likelihood of one published observation given the row's population correlation.

Two sampling models for the sample r (config ``track_a.likelihood``):

* ``fisher_z``: atanh(r) ~ Normal(atanh(rho), sd), sd = sqrt(1 / (n_eff - 3) + extra_sd^2);
* ``exact``: Hotelling's exact density of r given rho and n_eff (``models.exact_r``).

A point row contributes a density; an interval row contributes log P(r in [lo1, hi1] or [lo2, hi2]),
the second interval being empty (lo2 == hi2) when the sign is known. Where a branch is selected with
``switch``, the unused one gets safe dummy inputs (no NaN gradients).

The functions on reported r (:func:`observation_logp`, :func:`partitioned_logp`) are the reference; the Track A
model's Fisher-z graph (:func:`partitioned_fisher_logp`) reads the same quantities precomputed on the z scale
(:func:`fisher_data`), since they depend on the data only (tests hold the two graphs equal).
"""

from __future__ import annotations

from dataclasses import dataclass

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


_R_CLIP = 0.999999  # |r| = 1 would make atanh infinite


def _atanh(r):
    return pt.arctanh(pt.clip(r, -_R_CLIP, _R_CLIP))


def _check(likelihood: str) -> None:
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood={likelihood!r}; expected one of {LIKELIHOODS}")


def fisher_data(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The Fisher-z likelihood's inputs, computed once from the reported statistics instead of at every
    evaluation: ``z_obs``, ``z_lo1``, ... (atanh of r and of the interval bounds, as :func:`_atanh` clips them),
    ``sd`` (sampling SD of z) and ``log_norm`` (a reported r's log density but for its -y^2/2 term: normal
    normalising constant and Jacobian of r -> z). ``arrays``:
    ``r_obs``, ``r_lo1``, ``r_hi1``, ``n_eff``, ``extra_sd`` and, when present, ``r_lo2`` and ``r_hi2``.
    """
    r_obs = np.asarray(arrays["r_obs"], dtype=float)
    out = {f"z_{k[2:]}": np.arctanh(np.clip(np.asarray(arrays[k], float), -_R_CLIP, _R_CLIP))
           for k in ("r_obs", "r_lo1", "r_hi1", "r_lo2", "r_hi2") if k in arrays}  # fmt: skip
    n_eff, extra_sd = np.asarray(arrays["n_eff"], float), np.asarray(arrays["extra_sd"], float)
    out["sd"] = np.sqrt(1.0 / (n_eff - 3.0) + extra_sd**2)
    out["log_norm"] = -np.log(out["sd"]) - 0.5 * np.log(2 * np.pi) - np.log1p(-(r_obs**2))
    return out


def fisher_point_logp(z, z_obs, sd, log_norm):
    """Log density of a reported r on the Fisher-z scale, from :func:`fisher_data`'s inputs.

    It is the density of r itself (Jacobian of atanh), so pointwise log-likelihoods compare across likelihoods.
    """
    return -0.5 * ((z_obs - z) / sd) ** 2 + log_norm


def point_logp(z, r_obs, n_eff, extra_sd, likelihood):
    """Log density of a reported r (rows of kind point); every argument has one entry per row."""
    _check(likelihood)
    if likelihood == "fisher_z":
        sd = _fisher_sd(n_eff, extra_sd)
        return fisher_point_logp(z, _atanh(r_obs), sd, -pt.log(sd) - 0.5 * np.log(2 * np.pi) - pt.log1p(-(r_obs**2)))
    return exact_r.log_density(r_obs, _exact_rho(z), _exact_n(n_eff, extra_sd))


def interval_logp(z, lo1, hi1, lo2, hi2, has_second, n_eff, extra_sd, likelihood, two_sided=True):
    """log P(r in [lo1, hi1] or, where ``has_second``, in [lo2, hi2]) (rows of kind interval).

    ``two_sided=False`` is the static promise that no row has a second interval: that branch, half the
    cost, is then left out of the graph.
    """
    _check(likelihood)

    def log_prob(lo, hi):
        if likelihood == "fisher_z":
            return _log_normal_interval(_atanh(lo), _atanh(hi), z, _fisher_sd(n_eff, extra_sd))
        return exact_r.log_prob_interval(lo, hi, _exact_rho(z), _exact_n(n_eff, extra_sd))

    return _either_interval(log_prob, lo1, hi1, lo2, hi2, has_second, two_sided, (_SAFE_LO, _SAFE_HI))


def _either_interval(log_prob, lo1, hi1, lo2, hi2, has_second, two_sided, safe):
    """log P(first interval or, where ``has_second``, the second); ``safe``: dummy bounds of an empty second."""
    first = log_prob(lo1, hi1)
    if not two_sided:
        return first
    second = log_prob(pt.switch(has_second, lo2, safe[0]), pt.switch(has_second, hi2, safe[1]))
    return pt.switch(has_second, pt.logaddexp(first, second), first)


def fisher_interval_logp(z, z_lo1, z_hi1, z_lo2, z_hi2, has_second, sd, two_sided=True):
    """:func:`interval_logp` of the Fisher-z likelihood from :func:`fisher_data`'s inputs."""
    safe = (np.arctanh(_SAFE_LO), np.arctanh(_SAFE_HI))
    log_prob = lambda lo, hi: _log_normal_interval(lo, hi, z, sd)  # noqa: E731
    return _either_interval(log_prob, z_lo1, z_hi1, z_lo2, z_hi2, has_second, two_sided, safe)


def _fisher_sd(n_eff, extra_sd):
    return pt.sqrt(1.0 / (n_eff - 3.0) + extra_sd**2)


def _exact_rho(z):
    return pt.tanh(pt.clip(z, -15.0, 15.0))  # |rho| = 1 exactly would make the density NaN


def _exact_n(n_eff, extra_sd):
    # extra_sd (approximate statistics) enters as a smaller effective n with the same z variance
    return 3.0 + 1.0 / (1.0 / (n_eff - 3.0) + extra_sd**2)


def observation_logp(z, r_obs, is_point, lo1, hi1, lo2, hi2, has_second, n_eff, extra_sd, likelihood):
    """Pointwise log-likelihood (vector over rows) on the Fisher-z or the exact scale, any mix of kinds.

    ``z`` is atanh(rho) per row; the other arguments are numpy arrays or tensors from
    :func:`models.evidence.build_observations`. Both branches are evaluated for every row: a model whose
    row kinds are fixed uses :func:`partitioned_logp`, which evaluates each row's own branch only.
    """
    _check(likelihood)
    safe_r = pt.switch(is_point, r_obs, 0.0)
    lo1s, hi1s = pt.switch(is_point, _SAFE_LO, lo1), pt.switch(is_point, _SAFE_HI, hi1)
    point = point_logp(z, safe_r, n_eff, extra_sd, likelihood)
    interval = interval_logp(z, lo1s, hi1s, lo2, hi2, has_second, n_eff, extra_sd, likelihood)
    return pt.switch(is_point, point, interval)


def partitioned_logp(z, r_obs, lo1, hi1, lo2, hi2, has_second, n_eff, extra_sd, likelihood, layout):
    """:func:`observation_logp` for rows whose kinds are fixed by ``layout`` (a :class:`RowLayout`).

    Each branch is evaluated only on its own rows, so a point row costs no interval probability and a
    one-sided row no second interval (the gradient is most of a sampler's time: 12.6 -> 9.0 us for the
    Track A model); the result is in the original row order.
    """
    return layout.assemble(
        lambda p: point_logp(z[p], r_obs[p], n_eff[p], extra_sd[p], likelihood),
        # lo2, hi2 and has_second may be None when no row is two-sided
        lambda o: interval_logp(z[o], lo1[o], hi1[o], None, None, None, n_eff[o], extra_sd[o], likelihood, False),
        lambda t: interval_logp(*[v[t] for v in (z, lo1, hi1, lo2, hi2, has_second, n_eff, extra_sd)], likelihood),
    )


def partitioned_fisher_logp(z, d: dict, layout):
    """:func:`partitioned_logp` of the Fisher-z likelihood from :func:`fisher_data`'s inputs (``d``: tensors by
    name; ``z_lo2``, ``z_hi2`` and ``has_second`` only where some row is two-sided)."""
    return layout.assemble(
        lambda p: fisher_point_logp(z[p], d["z_obs"][p], d["sd"][p], d["log_norm"][p]),
        lambda o: fisher_interval_logp(z[o], d["z_lo1"][o], d["z_hi1"][o], None, None, None, d["sd"][o], False),
        lambda t: fisher_interval_logp(
            *[v[t] for v in (z, d["z_lo1"], d["z_hi1"], d["z_lo2"], d["z_hi2"], d["has_second"], d["sd"])]
        ),
    )


@dataclass(frozen=True)
class RowLayout:
    """Which rows are points, one-sided intervals and intervals that may have a second part (static)."""

    point: np.ndarray
    one_sided: np.ndarray
    two_sided: np.ndarray

    @classmethod
    def from_flags(cls, is_point: np.ndarray, has_second: np.ndarray) -> RowLayout:
        is_point, has_second = np.asarray(is_point, bool), np.asarray(has_second, bool)
        if np.any(is_point & has_second):
            raise ValueError(f"rows {np.flatnonzero(is_point & has_second).tolist()} are points with a second interval")
        return cls(
            np.flatnonzero(is_point), np.flatnonzero(~is_point & ~has_second), np.flatnonzero(~is_point & has_second)
        )

    def assemble(self, point, one_sided, two_sided):
        """The rows' log-likelihoods in row order, from each kind's function of its row indices."""
        parts, order = [], []
        for rows, logp in ((self.point, point), (self.one_sided, one_sided), (self.two_sided, two_sided)):
            if len(rows):
                parts.append(logp(rows))
                order.append(rows)
        return pt.concatenate(parts)[np.argsort(np.concatenate(order))]
