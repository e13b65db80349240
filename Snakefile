# Bayesian reanalysis of therapeutic alliance and outcome in psychedelic-assisted therapy.
# Contents: validate config (common) -> validate and audit the published table (data) -> fit every
# model x prior set (model) -> convergence gate (check) -> tables, figures, report (report).
from pathlib import Path

from snakemake.utils import min_version

from reanalysis import worker
from reanalysis.scheduling import cancel_rescheduling_timers, select_jobs_greedily
from reanalysis.snakemake_params import install as serialise_params_without_pandas
from reanalysis.stale import on_build_failure

min_version("9.0")
# Snakemake would import pandas (0.3-0.4 s) to compare params, none of which is a pandas object (see the module)
serialise_params_without_pandas()


configfile: "config.yaml"


include: "workflow/rules/common.smk"


# Jobs' scripts run in forks of one pre-imported process (config: worker), started here, once per run, so that it
# imports while Snakemake builds the DAG (or one the last run kept: worker_keep); onstart keeps it. Not in
# Snakemake's own job subprocesses.
if config["worker"] and workflow.is_main_process:
    worker.prestart("logs/worker.log", keep=config["worker_keep"])
# Snakemake's ILP job selection sometimes ran its whole 10-s time limit (reanalysis.scheduling)
if config["scheduler"] == "greedy":
    select_jobs_greedily()


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


onstart:
    if config["worker"]:
        worker.start("logs/worker.log", keep=config["worker_keep"])


# Both: Snakemake's process would wait up to 1 s more for its scheduler's last timer (reanalysis.scheduling).
onsuccess:
    worker.stop()
    cancel_rescheduling_timers()


# Snakemake removes only a failing job's outputs: the last good report would stay and read as current.
onerror:
    worker.stop()
    cancel_rescheduling_timers()
    on_build_failure(Path(rules.report.output.html), log)
