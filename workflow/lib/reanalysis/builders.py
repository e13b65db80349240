"""Models built from the pipeline's files, shared by the fit and the SBC jobs so both see the same graph."""

from __future__ import annotations

from dataclasses import dataclass

import pymc as pm

from models.participant import CohortData, build_alliance_model, build_outcome_model, to_participant_prior
from models.priors import to_z_prior
from models.published import PublishedData, build_published_model
from reanalysis.participant_io import read_clean_participants
from reanalysis.published_table import read_observations

# The alliance model's priors do not come from the prior sets; this placeholder only satisfies the builder.
NEUTRAL_PRIOR = {"rho": {"lower95": -0.8, "upper95": 0.8}, "heterogeneity": {}}
# Observed variables of the Track B models and the pm.Data containers that hold their values.
OBSERVED_DATA = {"outcome": {"x_observed": "x_data", "y": "y_data"}, "alliance": {"x_observed": "alliance_data"}}


@dataclass
class Built:
    model: pm.Model
    kind: str  # published | outcome | alliance
    data: PublishedData | CohortData


def published(obs_path: str, grouping: list[str], prior_set: dict, likelihood: str) -> Built:
    data = PublishedData.from_observations(read_observations(obs_path), list(grouping))
    model = build_published_model(data, to_z_prior(prior_set, list(grouping)), likelihood)
    return Built(model, "published", data)


def participant(clean_path: str, info: dict, spec: dict, prior_set: dict, residual: str) -> Built:
    outcome = info["outcome"] or next(iter(spec["outcomes"]))
    data = CohortData.from_long(read_clean_participants(clean_path), spec, outcome)
    if info["kind"] == "outcome":
        return Built(build_outcome_model(data, to_participant_prior(prior_set), residual), "outcome", data)
    return Built(build_alliance_model(data, to_participant_prior(NEUTRAL_PRIOR)), "alliance", data)
