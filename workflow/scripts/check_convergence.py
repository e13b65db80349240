"""Convergence gate of one fit: judge the measures its fit job wrote, write the diagnostics row, or fail the
job when on_fail is stop."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import pandas as pd

from reanalysis.diagnostics import DIAGNOSTIC_COLUMNS, Gate, enforce, judge, read_measures
from reanalysis.scripting import log_to, write_table


def main(measures_path: str, gate_cfg: dict, model: str, prior: str, out: str, log) -> None:
    gate = Gate.from_config(gate_cfg)
    row = judge(read_measures(measures_path), gate, model, prior)
    log.info("gate %s: %s", "passed" if row["passed"] else "FAILED", row)
    enforce(row, gate)
    write_table(pd.DataFrame([row], columns=DIAGNOSTIC_COLUMNS), out)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input.convergence, dict(snakemake.params.gate), snakemake.wildcards.model,
         snakemake.wildcards.prior, snakemake.output.diagnostics, log)  # fmt: skip
