"""Sampling theory of Pearson's r used outside the model graph (numpy/scipy).

Conventions: ``n`` is the number of participants and ``k`` the number of covariates partialled out; a
partial correlation with ``k`` covariates has the sampling distribution of a bivariate r with ``n - k``
participants, so every function takes ``df = n - 2 - k`` through :func:`residual_df`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

Z95 = stats.norm.ppf(0.975)


def residual_df(n, k=0):
    """Residual degrees of freedom of the t test of a (partial) correlation."""
    return np.asarray(n, dtype=float) - 2.0 - np.asarray(k, dtype=float)


def p_from_r(r, n, k=0):
    """Two-sided p of H0: rho = 0 for a (partial) correlation r from n participants, k covariates."""
    r = np.asarray(r, dtype=float)
    df = residual_df(n, k)
    with np.errstate(divide="ignore"):
        t = np.abs(r) * np.sqrt(df / (1.0 - r**2))
    return 2.0 * stats.t.sf(t, df)


def critical_r(alpha, n, k=0):
    """Smallest |r| that is significant at two-sided level alpha (t test with n - 2 - k df)."""
    df = residual_df(n, k)
    t = stats.t.isf(np.asarray(alpha, dtype=float) / 2.0, df)
    return t / np.sqrt(t**2 + df)


def fisher_se(n_eff):
    """Standard error of atanh(r) for a sample of effective size n_eff (Fisher 1921)."""
    return 1.0 / np.sqrt(np.asarray(n_eff, dtype=float) - 3.0)


def rounding_halfwidth(text: str) -> float:
    """Half a unit in the last printed digit: ".24" -> 0.005, "0.3" -> 0.05, "12" -> 0.5."""
    text = text.strip().lstrip("+-<>=")
    if "." not in text:
        return 0.5
    decimals = len(text.split(".", 1)[1])
    return 0.5 * 10.0**-decimals


def peterson_brown_r(beta):
    """Peterson & Brown (2005): r ~ beta + .05 * lambda, lambda = 1 if beta >= 0 else 0.

    Published for |beta| <= .5; the caller inflates the uncertainty to cover the approximation error.
    """
    beta = np.asarray(beta, dtype=float)
    return beta + 0.05 * (beta >= 0)
