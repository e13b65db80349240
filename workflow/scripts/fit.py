"""Fit one model under one prior set; store posterior, log-likelihood and prior draws with provenance."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from models.sampling import SamplerSettings, fit
from models.sensitivity import prior_set_variables
from reanalysis import builders
from reanalysis.diagnostics import Gate, RetryTest, write_measures
from reanalysis.fit_files import write_fit
from reanalysis.provenance import fit_attrs
from reanalysis.scripting import log_to


def main(obs_path, model_name, prior_name, p: dict, threads, out, convergence, log) -> None:
    """``p``: the rule's params (prior, grouping, likelihood, sampler, gate, seed)."""
    prior_set, likelihood, seed = dict(p["prior"]), p["likelihood"], int(p["seed"])
    model = builders.published(obs_path, p["grouping"], prior_set, likelihood).model
    settings = SamplerSettings.from_config(dict(p["sampler"]), cores=threads)
    retry_test = RetryTest(Gate.from_config(dict(p["gate"])))  # failing draws: sampled again (sampler.retry)
    log.info("fitting %s under %s with %s", model_name, prior_name, settings)
    idata = fit(model, settings, seed, verdict=retry_test)
    idata.attrs.update(fit_attrs("published", model_name, prior_name, prior_set, seed, dict(p["sampler"]), obs_path))
    idata.attrs["likelihood"] = likelihood
    # the priors a prior set controls: the ones power-scaling sensitivity perturbs
    idata.attrs["prior_set_variables"] = ",".join(prior_set_variables(model))
    write_fit(idata, out)
    # the kept draws' measures, taken by the retry test; judged by the gate job, which then needs no arviz
    write_measures(idata, convergence, retry_test.measured)
    log.info("wrote %s and %s", out, convergence)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.observations,
        snakemake.wildcards.model,
        snakemake.wildcards.prior,
        dict(snakemake.params.items()),
        snakemake.threads,
        snakemake.output.idata,
        snakemake.output.convergence,
        log,
    )
