"""The published-style analysis of one cohort: per-timepoint correlation and OLS with baseline, p adjusted."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import pandas as pd

from models.frequentist import per_timepoint
from reanalysis.participant_io import read_clean_participants
from reanalysis.scripting import log_to, write_table


def main(clean_path: str, spec: dict, out: str, log) -> None:
    df = read_clean_participants(clean_path)
    tables = [per_timepoint(df, spec, outcome) for outcome in spec["outcomes"]]
    write_table(pd.concat(tables, ignore_index=True), out)
    log.info("wrote %s", out)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input.clean, dict(snakemake.params.spec), snakemake.output.table, log)
