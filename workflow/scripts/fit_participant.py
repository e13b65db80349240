"""Fit one Track B model (outcome model under one prior set, or the alliance trajectory model)."""

import numpy as np
import xarray as xr

from models.participant import CohortData, build_alliance_model, build_outcome_model, to_participant_prior
from models.sampling import SamplerSettings, fit
from reanalysis.participant_io import read_clean_participants
from reanalysis.provenance import fit_attrs
from reanalysis.scripting import log_to

# The alliance model's priors do not come from the prior sets; this placeholder only satisfies the builder.
NEUTRAL_PRIOR = {"rho": {"lower95": -0.8, "upper95": 0.8}, "heterogeneity": {}}


def main(clean_path, info, spec, prior_set, prior_name, model_name, residual, sampler, seed, threads, out, log):
    df = read_clean_participants(clean_path)
    outcome = info["outcome"] or next(iter(spec["outcomes"]))
    data = CohortData.from_long(df, spec, outcome)
    settings = SamplerSettings.from_config(sampler, cores=threads)
    if info["kind"] == "outcome":
        model = build_outcome_model(data, to_participant_prior(prior_set), residual)
        idata = fit(model, settings, seed, predictive=("y",))
        # follow-up of every observed outcome, so the posterior predictive check can group by follow-up
        followup = np.asarray(data.followups)[data.followup_observed_cells[1]]
        labels = xr.Dataset({"y_followup": ("y_obs", followup.astype(str))})
        if "constant_data" in idata.groups():
            idata.constant_data = idata.constant_data.assign(y_followup=labels["y_followup"])
        else:
            idata.add_groups(constant_data=labels)
        # y is modelled on the standardised scale; these bring it back to outcome points
        idata.attrs.update(
            outcome=outcome,
            mcid=float(spec["outcomes"][outcome]["mcid"]),
            outcome_center=data.outcome_center,
            outcome_scale=data.outcome_scale,
        )
    else:
        idata = fit(build_alliance_model(data, to_participant_prior(NEUTRAL_PRIOR)), settings, seed)
    log.info("fitted %s under %s with %s", model_name, prior_name, settings)
    idata.attrs.update(fit_attrs("participant", model_name, prior_name, prior_set, seed, sampler, clean_path))
    idata.attrs.update(cohort=info["cohort"], synthetic=str(spec["file"] == "synthetic"))
    idata.to_netcdf(out)
    log.info("wrote %s", out)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.clean,
        dict(snakemake.params.info),
        dict(snakemake.params.spec),
        dict(snakemake.params.prior),
        snakemake.wildcards.prior,
        snakemake.wildcards.model,
        snakemake.params.residual,
        dict(snakemake.params.sampler),
        int(snakemake.params.seed),
        snakemake.threads,
        snakemake.output.idata,
        log,
    )
