"""Figures of one Track B outcome model: alliance slopes under every prior set, and the posterior
predictive check of the follow-up means (reference prior). Synthetic cohorts are stamped SYNTHETIC."""

import arviz as az
import numpy as np

from reanalysis.plots import followup_ppc, mark_synthetic, save, slope_forest
from reanalysis.scripting import log_to


def main(idata_paths, model: str, spec: dict, slopes_out: str, ppc_out: str, log) -> None:
    idatas = {idata.attrs["prior_set"]: idata for idata in map(az.from_netcdf, idata_paths)}
    first = next(iter(idatas.values()))
    synthetic = spec["file"] == "synthetic"
    tag = " · SYNTHETIC DATA" if synthetic else ""
    outcome = first.attrs["outcome"]
    fig = slope_forest(idatas, float(first.attrs["mcid"]), f"{spec['label']}: alliance and {outcome}{tag}")
    if synthetic:
        mark_synthetic(fig)
    save(fig, slopes_out)
    followup = first.constant_data["y_followup"].values.astype(str)
    centre, scale = float(first.attrs["outcome_center"]), float(first.attrs["outcome_scale"])
    observed = first.observed_data["y"].values * scale + centre  # back to outcome points
    predicted = first.posterior_predictive["y"].stack(s=("chain", "draw")).values * scale + centre  # y_obs x draws
    labels = list(dict.fromkeys(followup))
    fig = followup_ppc(
        {t: float(observed[followup == t].mean()) for t in labels},
        {t: predicted[followup == t].mean(axis=0) for t in labels},
        f"{spec['label']}: {outcome}, posterior predictive check ({first.attrs['prior_set']} prior){tag}",
    )
    if synthetic:
        mark_synthetic(fig)
    save(fig, ppc_out)
    log.info("wrote %s and %s (%d follow-ups, %d observed values)", slopes_out, ppc_out, len(labels), np.size(observed))


with log_to(snakemake.log[0]) as log:
    main(list(snakemake.input.idata), snakemake.wildcards.model, dict(snakemake.params.spec), snakemake.output.slopes,
         snakemake.output.ppc, log)  # fmt: skip
