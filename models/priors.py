"""Prior sets: from interpretable correlation units (config) to the model's Fisher-z hyperparameters.

A prior set states a 95% interval for the pooled correlation rho. On z = atanh(rho) that interval becomes
a normal with the interval's midpoint as mean and its width / (2 * 1.96) as sd, so the implied median of
rho is tanh(mean). Heterogeneity scales are half-normal scales on the z scale; near rho = 0,
dz ~ drho, so they read as "typical deviation of a group's rho from the pooled rho".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.correlation import Z95


@dataclass(frozen=True)
class ZPrior:
    mu_mean: float
    mu_sd: float
    sigma_scale: dict[str, float]  # grouping term (or "residual") -> half-normal scale on z

    @property
    def rho_median(self) -> float:
        return float(np.tanh(self.mu_mean))


def to_z_prior(prior_set: dict, grouping: list[str]) -> ZPrior:
    """Convert one prior set from config (correlation units) to z-scale hyperparameters.

    Raises ValueError naming the key when the interval is not ordered or a grouping term has no scale.
    """
    lo, hi = prior_set["rho"]["lower95"], prior_set["rho"]["upper95"]
    if not -1.0 < lo < hi < 1.0:
        raise ValueError(f"rho.lower95={lo} and rho.upper95={hi}: expected -1 < lower95 < upper95 < 1")
    z_lo, z_hi = np.arctanh(lo), np.arctanh(hi)
    het = prior_set["heterogeneity"]
    missing = [g for g in [*grouping, "residual"] if g not in het]
    if missing:
        raise ValueError(f"heterogeneity has no scale for {missing}; expected one per grouping term and 'residual'")
    return ZPrior(
        mu_mean=float((z_lo + z_hi) / 2.0),
        mu_sd=float((z_hi - z_lo) / (2.0 * Z95)),
        sigma_scale={g: float(het[g]) for g in [*grouping, "residual"]},
    )
