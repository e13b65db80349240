# Bayesian reanalysis of therapeutic alliance and outcome in psychedelic-assisted therapy.
# Contents: validate config (common) -> validate and audit the published table (data) -> fit every
# model x prior set (model) -> convergence gate (check) -> tables, figures, report (report).
from pathlib import Path

from snakemake.utils import min_version

from reanalysis import worker
from reanalysis.stale import on_build_failure

min_version("9.0")


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/check.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/sbc.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/audit.smk"


rule all:
    default_target: True
    input:
        rules.report.output.html,


# Jobs' scripts run in forks of one pre-imported process, started here once per run (config: worker).
onstart:
    if config["worker"]:
        worker.start("logs/worker.log")


onsuccess:
    worker.stop()


# Snakemake removes only a failing job's outputs: the last good report would stay and read as current.
onerror:
    worker.stop()
    on_build_failure(Path(rules.report.output.html), log)
