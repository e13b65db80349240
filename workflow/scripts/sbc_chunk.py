"""One chunk of simulation-based calibration replicates for one model (one compile, many refits)."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from models import calibration
from reanalysis import builders
from reanalysis.scripting import log_to, write_table


def main(
    inp, info, spec, prior_set, published, residual, settings, gradient, chunk, replicates, seed, threads, out, log
):
    if info["kind"] == "published":
        built = builders.published(inp, published["grouping"], prior_set, published["likelihood"])
    else:
        built = builders.participant(inp, info, spec, prior_set, residual)
    monitored = calibration.monitored(built.model, built.kind)
    first = chunk * settings["chunk_size"]
    n = min(settings["chunk_size"], replicates - first)
    cseed = calibration.chunk_seed(seed, chunk)
    if built.kind == "published":
        truths, datasets = calibration.track_a_datasets(
            built.model, built.data, published["likelihood"], monitored, n, cseed
        )
    else:
        truths, datasets = calibration.generic_datasets(
            built.model, builders.OBSERVED_DATA[built.kind], monitored, n, cseed
        )
    log.info("chunk %d: replicates %d-%d of %s, monitoring %s", chunk, first, first + n - 1, info, monitored)
    ranks = calibration.run(
        built.model, truths, datasets, calibration.SBCSettings.from_config(settings), cseed, first, threads, gradient
    )
    write_table(ranks, out)
    log.info("wrote %s (%d rows)", out, len(ranks))


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.data,
        dict(snakemake.params.info),
        dict(snakemake.params.spec),
        dict(snakemake.params.prior),
        dict(snakemake.params.published),
        snakemake.params.residual,
        dict(snakemake.params.settings),
        snakemake.params.gradient,
        int(snakemake.wildcards.chunk),
        int(snakemake.params.replicates),
        int(snakemake.params.seed),
        snakemake.threads,
        snakemake.output.ranks,
        log,
    )
