"""Prior sensitivity, LOO and prior predictive tables of one model (its fits' rows, joined) and their figures."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import pandas as pd

from reanalysis import workflow_plots
from reanalysis.fit_files import read_group
from reanalysis.plots import save
from reanalysis.scripting import join_tables, log_to, write_table


def prior_predictive_figure(priors, kind, scale, model, synthetic):
    if kind == "published":
        return workflow_plots.prior_predictive_rho(priors, title=f"Prior predictive: {model}")
    if kind == "outcome":
        mcid = float(scale["mcid"])
        return workflow_plots.prior_predictive_scale(
            priors, "slope_points", (-mcid, mcid), f"within one MCID ({mcid:g} points) per SD of alliance",
            "slope: outcome points per SD of alliance", f"Prior predictive slopes: {model}", synthetic,
        )  # fmt: skip
    return workflow_plots.prior_predictive_scale(
        priors, "theta", (scale["min"], scale["max"]), f"on the scale ({scale['min']:g} to {scale['max']:g})",
        "mean alliance rating", f"Prior predictive mean alliance: {model}", synthetic,
    )  # fmt: skip


def main(inputs, kind, scale, synthetic, model, out, log):
    for name in ("sensitivity", "loo", "loo_pointwise", "prior_predictive"):
        write_table(join_tables(list(inputs[name])), out[name])
    # the figures read the joined tables back as numbers, and only the prior draws of each fit
    sens, pointwise = pd.read_csv(out.sensitivity), pd.read_csv(out.loo_pointwise)
    priors = dict(read_group(p, "prior") for p in inputs.fits)
    save(workflow_plots.sensitivity_chart(sens, title=f"Power-scaling sensitivity: {model}", synthetic=synthetic),
         out.sensitivity_figure)  # fmt: skip
    save(prior_predictive_figure(priors, kind, scale, model, synthetic), out.prior_predictive_figure)
    by_fit = {p: pointwise[pointwise["prior_set"] == p] for p in priors}
    save(workflow_plots.pareto_k(by_fit, title=f"PSIS-LOO Pareto k: {model}", synthetic=synthetic), out.pareto_figure)
    log.info("wrote workflow checks of %s (%d fits)", model, len(priors))


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input,
        snakemake.params.kind,
        snakemake.params.scale,
        bool(snakemake.params.synthetic),
        snakemake.wildcards.model,
        snakemake.output,
        log,
    )
