"""One fit after sampling: the convergence gate's row (or a failed job, when on_fail is stop), then the fit's
tables: posterior summary, threshold probabilities, phase contrasts and PPC (summarise joins them), power-scaling
sensitivity, PSIS-LOO and prior predictive rows (workflow_checks joins them). Made per fit so that a prior edit
recomputes the edited prior set's rows only."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis import fit_checks
from reanalysis.diagnostics import gate_table
from reanalysis.fit_files import read_fit
from reanalysis.published_table import read_observations
from reanalysis.scripting import log_to, write_table
from reanalysis.summaries import fit_tables


def main(inputs, model, prior, p, out, log):
    """``p``: the rule's params (gate, kind, scale, thresholds, participant_thresholds, seed)."""
    write_table(gate_table(inputs.convergence, dict(p["gate"]), model, prior, log), out.diagnostics)
    idata = read_fit(inputs.idata)
    row_labels, observations = {}, None
    if "labels" in inputs.keys():  # Track A: rows labelled as in the main model's table; PPC against its own rows
        labels = read_observations(inputs.labels)
        row_labels = {
            r["row_id"]: f"{r['study']}, {r['alliance_phase']}, {r['outcome']} @ {r['outcome_timepoint']}"
            for _, r in labels.iterrows()
        }
        same = inputs.observations == inputs.labels
        observations = labels if same else read_observations(inputs.observations)
    tables = fit_tables(idata, row_labels, observations, list(p["thresholds"]), list(p["participant_thresholds"]),
                        int(p["seed"]))  # fmt: skip
    for name, table in tables.items():
        write_table(table, out[name])
    fits, kind = {idata.attrs["prior_set"]: idata}, p["kind"]
    write_table(fit_checks.sensitivity_tables(fits, kind), out.sensitivity)
    summary, pointwise = fit_checks.loo_tables(fits, kind)
    write_table(summary, out.loo)
    write_table(pointwise, out.loo_pointwise)
    write_table(fit_checks.prior_predictive_tables(fits, kind, p["scale"]), out.prior_predictive)
    log.info("wrote the tables of %s", inputs.idata)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input, snakemake.wildcards.model, snakemake.wildcards.prior, dict(snakemake.params.items()),
         snakemake.output, log)  # fmt: skip
