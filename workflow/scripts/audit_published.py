"""Statcheck-style audit of every (r, p, n) in the cleaned table."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis.audit import audit_table
from reanalysis.published_table import read_clean
from reanalysis.scripting import log_to, write_table


def main(clean_path: str, audit_path: str, log) -> None:
    audit = audit_table(read_clean(clean_path))
    log.info("audit: %s", audit["verdict"].value_counts().to_dict())
    write_table(audit, audit_path)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input.clean, snakemake.output.audit, log)
