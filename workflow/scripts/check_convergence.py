"""Convergence gate of one variant fit (the LOO comparison's): judge the measures its fit job wrote, write the
diagnostics row, or fail the job when on_fail is stop."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis.diagnostics import gate_table
from reanalysis.scripting import log_to, write_table


def main(measures_path: str, gate_cfg: dict, model: str, prior: str, out: str, log) -> None:
    write_table(gate_table(measures_path, gate_cfg, model, prior, log), out)


with log_to(snakemake.log[0]) as log:
    # the variant named as the model, so that its row and a failure are not taken for the main fit's
    main(snakemake.input.convergence, dict(snakemake.params.gate),
         f"{snakemake.wildcards.model}.{snakemake.wildcards.variant}", snakemake.wildcards.prior,
         snakemake.output.diagnostics, log)  # fmt: skip
