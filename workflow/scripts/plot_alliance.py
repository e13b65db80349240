"""Figures of one cohort's alliance trajectory model: the change over treatment, and the posterior predictive
check of the mean and SD of alliance at each timepoint, with its table. Synthetic cohorts are stamped SYNTHETIC."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from models.predictive import group_ppc_table, replicated_group_statistics
from reanalysis.fit_files import read_fit
from reanalysis.plots import alliance_trajectory, group_ppc, mark_synthetic, save
from reanalysis.scripting import log_to, write_table


def main(idata_path: str, model: str, spec: dict, out: str, ppc_out: str, ppc_table_out: str, log) -> None:
    synthetic = spec["file"] == "synthetic"
    tag = " · SYNTHETIC DATA" if synthetic else ""
    idata = read_fit(idata_path)
    figures = [(alliance_trajectory(idata, f"{spec['label']}: alliance over treatment{tag}"), out)]
    timepoint = idata.constant_data["x_time"].values.astype(str)
    observed = idata.observed_data["x_observed"].values
    predicted = idata.posterior_predictive["x_observed"].stack(s=("chain", "draw")).values  # alliance_obs x draws
    table = group_ppc_table(observed, predicted, timepoint, model, idata.attrs["prior_set"])
    write_table(table, ppc_table_out)
    replicated = replicated_group_statistics(predicted, timepoint)
    title = f"{spec['label']}: alliance, posterior predictive check{tag}"
    figures.append((group_ppc(table, replicated, title, f"{spec['alliance']['measure']} points"), ppc_out))
    for fig, path in figures:
        if synthetic:
            mark_synthetic(fig)
        save(fig, path)
    log.info("wrote %s, %s and %s (%d flagged)", out, ppc_out, ppc_table_out, int(table["outside_95"].sum()))


with log_to(snakemake.log[0]) as log:
    main(snakemake.input.idata, f"{snakemake.wildcards.cohort}_alliance", dict(snakemake.params.spec),
         snakemake.output.figure, snakemake.output.ppc, snakemake.output.ppc_table, log)  # fmt: skip
