"""Convergence gate of one fit: write its diagnostics row, or fail the job when on_fail is stop."""

import arviz as az
import pandas as pd

from reanalysis.diagnostics import DIAGNOSTIC_COLUMNS, Gate, check, enforce
from reanalysis.scripting import log_to, write_table


def main(idata_path: str, gate_cfg: dict, model: str, prior: str, out: str, log) -> None:
    gate = Gate.from_config(gate_cfg)
    row = check(az.from_netcdf(idata_path), gate, model, prior)
    log.info("gate %s: %s", "passed" if row["passed"] else "FAILED", row)
    enforce(row, gate)
    write_table(pd.DataFrame([row], columns=DIAGNOSTIC_COLUMNS), out)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input.idata, dict(snakemake.params.gate), snakemake.wildcards.model, snakemake.wildcards.prior,
         snakemake.output.diagnostics, log)  # fmt: skip
