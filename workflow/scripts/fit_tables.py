"""One fit's tables: posterior summary, threshold probabilities, phase contrasts and PPC (summarise joins them),
power-scaling sensitivity, PSIS-LOO and prior predictive rows (workflow_checks joins them). Made per fit so that
a prior edit recomputes the edited prior set's rows only."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis import fit_checks
from reanalysis.fit_files import read_fit
from reanalysis.published_table import read_observations
from reanalysis.scripting import log_to, write_table
from reanalysis.summaries import fit_tables


def main(idata_path, labels_path, obs_path, kind, scale, thresholds, participant_thresholds, seed, out, log):
    idata = read_fit(idata_path)
    row_labels, observations = {}, None
    if labels_path:  # Track A: rows labelled as in the main model's table; the PPC against the fit's own rows
        labels = read_observations(labels_path)
        row_labels = {
            r["row_id"]: f"{r['study']}, {r['alliance_phase']}, {r['outcome']} @ {r['outcome_timepoint']}"
            for _, r in labels.iterrows()
        }
        observations = labels if obs_path == labels_path else read_observations(obs_path)
    for name, table in fit_tables(idata, row_labels, observations, thresholds, participant_thresholds, seed).items():
        write_table(table, out[name])
    fits = {idata.attrs["prior_set"]: idata}
    write_table(fit_checks.sensitivity_tables(fits, kind), out.sensitivity)
    summary, pointwise = fit_checks.loo_tables(fits, kind)
    write_table(summary, out.loo)
    write_table(pointwise, out.loo_pointwise)
    write_table(fit_checks.prior_predictive_tables(fits, kind, scale), out.prior_predictive)
    log.info("wrote the tables of %s", idata_path)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.idata,
        snakemake.input.get("labels", ""),
        snakemake.input.get("observations", ""),
        snakemake.params.kind,
        snakemake.params.scale,
        list(snakemake.params.thresholds),
        list(snakemake.params.participant_thresholds),
        int(snakemake.params.seed),
        snakemake.output,
        log,
    )
