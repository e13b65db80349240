"""Participant data of one cohort: simulate the calibrated synthetic cohort or read the user's file, then
validate both through the same checks, writing the clean long table, the cleaning log and missingness."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from models.cohorts import simulate_cohort
from reanalysis.participant_table import read_participants, validate_participant_frame
from reanalysis.scripting import log_to, write_table


def main(cohort: str, spec: dict, seed: int, table: list, outputs, log) -> None:
    if spec["file"] == "synthetic":
        frame = simulate_cohort(cohort, spec, seed, n=spec.get("n_synthetic"))
        clean, cleaning_log, missingness = validate_participant_frame(frame, cohort, spec, source=f"synthetic {cohort}")
        log.info("simulated SYNTHETIC cohort %s (seed %d): %d rows", cohort, seed, len(clean))
    else:
        clean, cleaning_log, missingness = read_participants(table[0], cohort, spec)
        log.info("validated %s: %d rows", table[0], len(clean))
    write_table(clean, outputs.clean)
    write_table(cleaning_log, outputs.cleaning_log)
    write_table(missingness, outputs.missingness)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.wildcards.cohort,
        dict(snakemake.params.spec),
        int(snakemake.params.seed),
        list(snakemake.input.table),
        snakemake.output,
        log,
    )
