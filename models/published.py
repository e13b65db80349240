"""Track A: hierarchical model of the alliance-severity correlation behind published statistics.

For published row i (study s, alliance phase p, follow-up f, outcome o):

    z_i   = mu + sum_g sigma_g * a_g[level_g(i)] + sigma_residual * e_i       (non-centred)
    rho_i = tanh(z_i)
    r_i   | rho_i ~ sampling distribution of r (Fisher-z or exact), observed as a point or an interval

with a_g, e ~ Normal(0, 1) and sigma_g ~ HalfNormal(scale_g). Rows of one study share participants:
the study term makes their rho_i correlate, and their sampling errors are treated as independent given
rho_i (optionally deflated by a design effect, ``shared_sample_error_correlation`` in config).

Prior hyperparameters enter as ``pm.Data`` so every prior set maps to the same compiled graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from models.compile import register_handwritten
from models.likelihoods import LIKELIHOODS, RowLayout, fisher_data, partitioned_fisher_logp, partitioned_logp
from models.priors import ZPrior
from models.published_kernel import gradient_for

PHASE_ORDER = ["preparation", "mid-treatment", "late-treatment", "post-dosing"]


def ordered_levels(values: pd.Series, column: str) -> list[str]:
    """Levels in a stable, readable order: treatment order for phases, first appearance otherwise."""
    seen = list(dict.fromkeys(values.astype(str)))
    if column == "alliance_phase":
        return [p for p in PHASE_ORDER if p in seen] + [p for p in seen if p not in PHASE_ORDER]
    return seen


@dataclass(frozen=True)
class PublishedData:
    """Model inputs as arrays, with coords; made from the observations table."""

    coords: dict[str, list[str]]
    group_index: dict[str, np.ndarray]
    arrays: dict[str, np.ndarray]

    @classmethod
    def from_observations(cls, obs: pd.DataFrame, grouping: list[str]) -> PublishedData:
        coords = {"row": obs["row_id"].astype(str).tolist()}
        group_index = {}
        for g in grouping:
            levels = ordered_levels(obs[g], g)
            coords[g] = levels
            group_index[g] = obs[g].astype(str).map({lv: j for j, lv in enumerate(levels)}).to_numpy(int)
        is_point = (obs["kind"] == "point").to_numpy()
        has_second = (obs["r_hi2"] > obs["r_lo2"]).to_numpy()
        arrays = {
            "r_obs": np.where(is_point, obs["r_obs"].fillna(0.0), 0.0).astype(float),
            "is_point": is_point,
            "has_second": has_second,
            **{c: obs[c].to_numpy(float) for c in ["r_lo1", "r_hi1", "r_lo2", "r_hi2", "n_eff", "extra_sd"]},
        }
        return cls(coords=coords, group_index=group_index, arrays=arrays)

    @cached_property  # frozen instances, so computed once (cached_property writes __dict__, not setattr)
    def layout(self) -> RowLayout:
        """Static row kinds. A simulated data set may drop a row's second interval, never add one."""
        return RowLayout.from_flags(self.arrays["is_point"], self.arrays["has_second"])


def prior_data(prior: ZPrior) -> dict[str, float]:
    """Values of the prior ``pm.Data`` containers, keyed by their names in the model."""
    return {
        "prior_mu_mean": prior.mu_mean,
        "prior_mu_sd": prior.mu_sd,
        **{f"prior_sigma_{g}": s for g, s in prior.sigma_scale.items()},
    }


# Row kinds (point or interval, and which intervals may have a second part) are structure, not data: they
# decide which branch of the likelihood each row's graph holds (models.likelihoods.RowLayout). The containers
# hold what each likelihood reads: the Fisher-z one its z-scale inputs, computed once (likelihoods.fisher_data;
# the sampler evaluates the density about 400,000 times per fit), the exact one the reported statistics.
OBSERVATION_ARRAYS = {
    "fisher_z": ("z_obs", "z_lo1", "z_hi1", "z_lo2", "z_hi2", "has_second", "sd", "log_norm"),
    "exact": ("r_obs", "r_lo1", "r_hi1", "r_lo2", "r_hi2", "has_second", "n_eff", "extra_sd"),
}
SECOND_INTERVAL_ARRAYS = ("z_lo2", "z_hi2", "r_lo2", "r_hi2", "has_second")


def observation_names(data: PublishedData, likelihood: str = "fisher_z") -> list[str]:
    """Names of the observation ``pm.Data`` containers of this data's model under ``likelihood``.

    Without sign-unknown rows the second-interval arrays are in no row's graph, so they get no container:
    ``with_data`` then rejects them instead of ignoring them.
    """
    two_sided = len(data.layout.two_sided) > 0
    return [f"obs_{n}" for n in OBSERVATION_ARRAYS[likelihood] if two_sided or n not in SECOND_INTERVAL_ARRAYS]


def observation_values(arrays: dict[str, np.ndarray], data: PublishedData, likelihood: str) -> dict[str, np.ndarray]:
    """The observation containers' values from reported statistics ``arrays`` (``r_obs``, ``r_lo1``, ...,
    ``has_second``, ``n_eff``, ``extra_sd``: this data's or a simulated data set's); flags as 0/1 floats."""
    values = {**arrays, **fisher_data(arrays)} if likelihood == "fisher_z" else arrays
    return {name: np.asarray(values[name[4:]], dtype=float) for name in observation_names(data, likelihood)}


def observation_data(data: PublishedData, likelihood: str = "fisher_z") -> dict[str, np.ndarray]:
    """Values of the observation ``pm.Data`` containers of this data's model."""
    return observation_values(data.arrays, data, likelihood)


def observation_logp(z, a: dict, likelihood: str, layout) -> object:
    """Per-row log-likelihood from the observation containers ``a`` (by name without ``obs_``)."""
    if likelihood == "fisher_z":
        return partitioned_fisher_logp(z, a, layout)
    lo2, hi2, has_second = (a.get(n) for n in ("r_lo2", "r_hi2", "has_second"))  # None without sign-unknown rows
    return partitioned_logp(
        z, a["r_obs"], a["r_lo1"], a["r_hi1"], lo2, hi2, has_second, a["n_eff"], a["extra_sd"], likelihood, layout
    )


def build_published_model(data: PublishedData, prior: ZPrior, likelihood: str = "fisher_z") -> pm.Model:
    """Pure factory: the Track A model for one observation set and one prior set."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood={likelihood!r}; expected one of {LIKELIHOODS}")
    grouping = [g for g in data.coords if g != "row"]
    with pm.Model(coords=data.coords) as model:
        hyper = {name: pm.Data(name, value) for name, value in prior_data(prior).items()}
        # Observations are pm.Data too: SBC replicates and the reported/implied-n fits reuse one compile.
        a = {name[4:]: pm.Data(name, value) for name, value in observation_data(data, likelihood).items()}
        if "has_second" in a:  # only with sign-unknown rows
            a["has_second"] = a["has_second"] > 0.5
        mu = pm.Normal("mu", hyper["prior_mu_mean"], hyper["prior_mu_sd"])
        z = mu
        for g in grouping:
            sigma = pm.HalfNormal(f"sigma_{g}", hyper[f"prior_sigma_{g}"])
            offset = pm.Normal(f"a_{g}", 0.0, 1.0, dims=g)
            effect = sigma * offset
            pm.Deterministic(f"rho_{g}", pt.tanh(mu + effect), dims=g)
            z = z + effect[data.group_index[g]]
        sigma_res = pm.HalfNormal("sigma_residual", hyper["prior_sigma_residual"])
        e = pm.Normal("e_residual", 0.0, 1.0, dims="row")
        pm.Deterministic("rho_pooled", pt.tanh(mu))
        pm.Deterministic("rho_cell", pt.tanh(z), dims="row")  # study x phase x follow-up x outcome
        z_row = z + sigma_res * e
        pm.Deterministic("rho_row", pt.tanh(z_row), dims="row")
        pm.CustomDist(
            "obs",
            z_row,
            logp=lambda value, z_: observation_logp(z_, a, likelihood, data.layout),
            observed=np.zeros(len(data.coords["row"])),
            dims="row",
        )
    if likelihood == "fisher_z":  # nutpie samples with a hand-written gradient, checked against this graph
        register_handwritten(model, gradient_for(data))
    return model
