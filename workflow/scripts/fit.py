"""Fit one model under one prior set; store posterior, log-likelihood and prior draws with provenance."""

from models.priors import to_z_prior
from models.published import PublishedData, build_published_model
from models.sampling import SamplerSettings, fit
from reanalysis.provenance import fit_attrs
from reanalysis.published_table import read_observations
from reanalysis.scripting import log_to


def main(obs_path, prior_set, prior_name, model_name, grouping, likelihood, sampler, seed, threads, out, log) -> None:
    obs = read_observations(obs_path)
    data = PublishedData.from_observations(obs, list(grouping))
    prior = to_z_prior(prior_set, list(grouping))
    model = build_published_model(data, prior, likelihood)
    settings = SamplerSettings.from_config(sampler, cores=threads)
    log.info("fitting %s under %s with %s", model_name, prior_name, settings)
    idata = fit(model, settings, seed)
    idata.attrs.update(fit_attrs("published", model_name, prior_name, prior_set, seed, sampler, obs_path))
    idata.attrs["likelihood"] = likelihood
    idata.to_netcdf(out)
    log.info("wrote %s", out)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.observations,
        dict(snakemake.params.prior),
        snakemake.wildcards.prior,
        snakemake.wildcards.model,
        snakemake.params.grouping,
        snakemake.params.likelihood,
        dict(snakemake.params.sampler),
        int(snakemake.params.seed),
        snakemake.threads,
        snakemake.output.idata,
        log,
    )
