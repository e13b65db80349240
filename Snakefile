# Bayesian reanalysis of therapeutic alliance and outcome in psychedelic-assisted therapy.
# Contents: validate config (common) -> validate and audit the published table (data) -> fit every
# model x prior set (model) -> convergence gate (check) -> tables, figures, report (report).
import sys
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


# Jobs' scripts run in forks of one pre-imported process (config: worker). It starts here, while Snakemake builds
# the DAG, when the command line runs jobs; otherwise (or if this start was skipped) in onstart.
if config["worker"] and workflow.is_main_process and worker.runs_jobs(sys.argv):
    worker.start("logs/worker.log")


rule all:
    default_target: True
    input:
        rules.report.output.html,


onstart:
    if config["worker"]:
        worker.start("logs/worker.log")


onsuccess:
    worker.stop()


# Snakemake removes only a failing job's outputs: the last good report would stay and read as current.
onerror:
    worker.stop()
    on_build_failure(Path(rules.report.output.html), log)
