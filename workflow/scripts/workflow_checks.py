"""Prior sensitivity, LOO (and the variant comparison) and prior predictive summaries of one model's fits."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis import fit_checks, workflow_plots
from reanalysis.fit_files import read_fit
from reanalysis.plots import save
from reanalysis.scripting import log_to, write_table


def prior_predictive_figure(fits, kind, scale, model, synthetic):
    if kind == "published":
        return workflow_plots.prior_predictive_rho(fits, title=f"Prior predictive: {model}")
    if kind == "outcome":
        mcid = float(scale["mcid"])
        return workflow_plots.prior_predictive_scale(
            fits, "slope_points", (-mcid, mcid), f"within one MCID ({mcid:g} points) per SD of alliance",
            "slope: outcome points per SD of alliance", f"Prior predictive slopes: {model}", synthetic,
        )  # fmt: skip
    return workflow_plots.prior_predictive_scale(
        fits, "theta", (scale["min"], scale["max"]), f"on the scale ({scale['min']:g} to {scale['max']:g})",
        "mean alliance rating", f"Prior predictive mean alliance: {model}", synthetic,
    )  # fmt: skip


def main(fit_paths, variant_path, variant_name, kind, scale, synthetic, model, out, log):
    loaded = [read_fit(p) for p in fit_paths]
    fits = {idata.attrs["prior_set"]: idata for idata in loaded}
    sens = fit_checks.sensitivity_tables(fits, kind)
    write_table(sens, out.sensitivity)
    summary, pointwise = fit_checks.loo_tables(fits, kind)
    write_table(summary, out.loo)
    write_table(pointwise, out.loo_pointwise)
    write_table(fit_checks.prior_predictive_tables(fits, kind, scale), out.prior_predictive)
    first = next(iter(fits))
    if variant_path:
        table = fit_checks.compare_variant(fits[first], read_fit(variant_path), (kind, variant_name), kind)
        write_table(table, out.compare)
    else:
        write_table(fit_checks.no_variant(), out.compare)
    save(workflow_plots.sensitivity_chart(sens, title=f"Power-scaling sensitivity: {model}", synthetic=synthetic),
         out.sensitivity_figure)  # fmt: skip
    save(prior_predictive_figure(fits, kind, scale, model, synthetic), out.prior_predictive_figure)
    by_fit = {p: pointwise[pointwise["prior_set"] == p] for p in fits}
    save(workflow_plots.pareto_k(by_fit, title=f"PSIS-LOO Pareto k: {model}", synthetic=synthetic), out.pareto_figure)
    log.info("wrote workflow checks of %s (%d fits)", model, len(fits))


with log_to(snakemake.log[0]) as log:
    main(
        list(snakemake.input.fits),
        snakemake.input.get("variant", ""),
        snakemake.params.variant,
        snakemake.params.kind,
        snakemake.params.scale,
        bool(snakemake.params.synthetic),
        snakemake.wildcards.model,
        snakemake.output,
        log,
    )
