"""Validate the published table and write the cleaned table and its cleaning log."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis.published_table import read_published
from reanalysis.scripting import log_to, write_table


def main(table: str, clean_path: str, log_path: str, log) -> None:
    clean, cleaning_log = read_published(table)
    log.info("validated %s: %d rows, %d studies", table, len(clean), clean["study"].nunique())
    write_table(clean, clean_path)
    write_table(cleaning_log, log_path)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input.table, snakemake.output.clean, snakemake.output.cleaning_log, log)
