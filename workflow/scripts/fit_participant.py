"""Fit one Track B model (outcome model under one prior set, or the alliance trajectory model)."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import numpy as np
import xarray as xr

from models.sampling import SamplerSettings, fit
from models.sensitivity import prior_set_variables
from reanalysis import builders
from reanalysis.diagnostics import Gate, RetryTest, write_measures
from reanalysis.fit_files import write_fit
from reanalysis.provenance import fit_attrs
from reanalysis.scripting import log_to


def add_labels(idata, name: str, dim: str, labels: np.ndarray) -> None:
    """Store a label per observed value in constant_data (the grouping of a posterior predictive check)."""
    labels = xr.Dataset({name: (dim, labels.astype(str))})
    if "constant_data" in idata.groups():
        idata.constant_data = idata.constant_data.assign({name: labels[name]})
    else:
        idata.add_groups(constant_data=labels)


def main(clean_path, model_name, prior_name, p: dict, threads, out, convergence, log):
    """``p``: the rule's params (info, spec, prior, residual, predictive, sampler, gate, seed)."""
    info, spec, prior_set, seed = dict(p["info"]), dict(p["spec"]), dict(p["prior"]), int(p["seed"])
    built = builders.participant(clean_path, info, spec, prior_set, p["residual"])
    data, outcome = built.data, built.data.outcome
    settings = SamplerSettings.from_config(dict(p["sampler"]), cores=threads)
    retry_test = RetryTest(Gate.from_config(dict(p["gate"])))  # failing draws: sampled again (sampler.retry)
    observed = "y" if built.kind == "outcome" else "x_observed"
    # replicated data only where the posterior predictive check reads them (rule param `predictive`)
    idata = fit(built.model, settings, seed, predictive=(observed,) if p["predictive"] else (), verdict=retry_test)
    if built.kind == "outcome":
        # follow-up of every observed outcome, so the posterior predictive check can group by follow-up
        add_labels(idata, "y_followup", "y_obs", np.asarray(data.followups)[data.followup_observed_cells[1]])
        # y is modelled on the standardised scale; these bring it back to outcome points
        idata.attrs.update(
            outcome=outcome,
            mcid=float(spec["outcomes"][outcome]["mcid"]),
            outcome_center=data.outcome_center,
            outcome_scale=data.outcome_scale,
        )
    else:
        # alliance timepoint of every observed alliance value, for the posterior predictive check by timepoint
        timepoint = np.asarray(data.alliance_timepoints)[data.alliance_observed_cells[1]]
        add_labels(idata, "x_time", "alliance_obs", timepoint)
    log.info("fitted %s under %s with %s", model_name, prior_name, settings)
    attrs = fit_attrs("participant", model_name, prior_name, prior_set, seed, dict(p["sampler"]), clean_path)
    idata.attrs.update(attrs)
    idata.attrs.update(cohort=info["cohort"], synthetic=str(spec["file"] == "synthetic"))
    # the priors a prior set controls: the ones power-scaling sensitivity perturbs
    idata.attrs["prior_set_variables"] = ",".join(prior_set_variables(built.model))
    write_fit(idata, out)
    # the kept draws' measures, taken by the retry test; judged by the gate job, which then needs no arviz
    write_measures(idata, convergence, retry_test.measured)
    log.info("wrote %s and %s", out, convergence)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.clean,
        snakemake.wildcards.model,
        snakemake.wildcards.prior,
        dict(snakemake.params.items()),
        snakemake.threads,
        snakemake.output.idata,
        snakemake.output.convergence,
        log,
    )
