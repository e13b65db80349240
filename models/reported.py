"""The parameters each kind of model reports, checked by SBC and by power-scaling sensitivity alike."""

from __future__ import annotations

from collections.abc import Container

REPORTED = {
    "published": [
        "rho_pooled", "rho_alliance_phase", "sigma_study", "sigma_alliance_phase", "sigma_outcome_timepoint",
        "sigma_outcome", "sigma_residual",
    ],
    "outcome": ["gamma_mean", "tau", "sigma", "slope_std"],
    "alliance": ["theta", "sigma_v", "sigma_x"],
}  # fmt: skip


def reported(names: Container[str], kind: str) -> list[str]:
    """The kind's reported parameters among ``names`` (grouping terms can be switched off in config)."""
    if kind not in REPORTED:
        raise ValueError(f"model kind {kind!r}; expected one of {list(REPORTED)}")
    return [name for name in REPORTED[kind] if name in names]
