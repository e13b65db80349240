"""elpd_loo of a model's first-prior-set fit against its variant's (same observations); header only without one."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import pandas as pd

from reanalysis import fit_checks
from reanalysis.fit_files import read_fit
from reanalysis.scripting import log_to, write_table


def main(main_path, variant_path, gate_path, model, variant, kind, out, log):
    if not variant_path:
        write_table(fit_checks.no_variant(), out)
        log.info("%s has no variant to compare", model)
        return
    if not pd.read_csv(gate_path)["passed"].all():  # gate.on_fail: flag; with stop the gate job failed already
        log.warning("the variant %s of %s failed the convergence gate (%s); its LOO is compared anyway", variant,
                    model, gate_path)  # fmt: skip
    table = fit_checks.compare_variant(read_fit(main_path), read_fit(variant_path), (kind, variant), kind)
    write_table(table, out)
    log.info("compared %s with its variant %s", model, variant)


with log_to(snakemake.log[0]) as log:
    main(
        snakemake.input.get("main", ""),
        snakemake.input.get("variant", ""),
        snakemake.input.get("variant_gate", ""),
        snakemake.wildcards.model,
        snakemake.params.variant,
        snakemake.params.kind,
        snakemake.output.compare,
        log,
    )
