"""Turn every cleaned row into an observation of the sample r, under one choice of n."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import pandas as pd

from models.evidence import EvidenceSettings, build_observations
from reanalysis.published_table import read_clean
from reanalysis.scripting import log_to, write_table


def main(clean_path: str, audit_path: str, n_source: str, settings: dict, out: str, dropped_out: str, log) -> None:
    clean = read_clean(clean_path)
    audit = pd.read_csv(audit_path, dtype={"row_id": str}).set_index("row_id")
    n_used = audit["n_reported"] if n_source == "reported" else audit["n_implied"]
    obs, dropped = build_observations(clean, n_used, EvidenceSettings(**settings))
    log.info("%d observations (%s n), %d rows dropped by config", len(obs), n_source, len(dropped))
    write_table(obs, out)
    write_table(pd.DataFrame(dropped, columns=["row_id", "action", "reason"]), dropped_out)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.clean,
        snakemake.input.audit,
        snakemake.wildcards.n_source,
        dict(snakemake.params.settings),
        snakemake.output.observations,
        snakemake.output.dropped,
        log,
    )
