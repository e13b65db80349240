"""Figures of one Track B outcome model: alliance slopes under every prior set, and the posterior predictive
check of the follow-up means and SDs (first prior set), with its table. Synthetic cohorts are stamped SYNTHETIC."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from models.predictive import group_ppc_table, replicated_group_statistics
from reanalysis.fit_files import read_fit
from reanalysis.plots import group_ppc, mark_synthetic, save, slope_forest
from reanalysis.scripting import log_to, write_table


def main(idata_paths, model: str, spec: dict, slopes_out: str, ppc_out: str, ppc_table_out: str, log) -> None:
    idatas = {idata.attrs["prior_set"]: idata for idata in map(read_fit, idata_paths)}
    first = next(iter(idatas.values()))
    synthetic = spec["file"] == "synthetic"
    tag = " · SYNTHETIC DATA" if synthetic else ""
    outcome = first.attrs["outcome"]
    fig = slope_forest(idatas, float(first.attrs["mcid"]), f"{spec['label']}: alliance and {outcome}{tag}")
    if synthetic:
        mark_synthetic(fig)
    save(fig, slopes_out)
    if "posterior_predictive" not in first.groups():  # drawn only under the first prior set (rule fit_participant)
        raise ValueError(f"{idata_paths[0]}: no posterior predictive draws; expected the first prior set's fit")
    followup = first.constant_data["y_followup"].values.astype(str)
    centre, scale = float(first.attrs["outcome_center"]), float(first.attrs["outcome_scale"])
    observed = first.observed_data["y"].values * scale + centre  # back to outcome points
    predicted = first.posterior_predictive["y"].stack(s=("chain", "draw")).values * scale + centre  # y_obs x draws
    table = group_ppc_table(observed, predicted, followup, model, first.attrs["prior_set"])
    write_table(table, ppc_table_out)
    fig = group_ppc(
        table,
        replicated_group_statistics(predicted, followup),
        f"{spec['label']}: {outcome}, posterior predictive check ({first.attrs['prior_set']} prior){tag}",
        f"{outcome} points",
    )
    if synthetic:
        mark_synthetic(fig)
    save(fig, ppc_out)
    log.info("wrote %s, %s and %s (%d checks, %d flagged)", slopes_out, ppc_out, ppc_table_out, len(table),
             int(table["outside_95"].sum()))  # fmt: skip


with log_to(snakemake.log[0]) as log:
    main(list(snakemake.input.idata), snakemake.wildcards.model, dict(snakemake.params.spec), snakemake.output.slopes,
         snakemake.output.ppc, snakemake.output.ppc_table, log)  # fmt: skip
