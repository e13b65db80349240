# Audit stage: the pipeline's own DAG as a picture (checkpoint dag) and a record of how this run was made (rule
# provenance: git state, packages, the resolved config and its diff against the default config, input hashes,
# seeds, per-job runtimes from the benchmark files). The report reads both as declared inputs, so it never calls
# git or reads config.yaml itself.
from pathlib import Path

from reanalysis.dag import rule_table, structural_config
from reanalysis.provenance import (
    default_config,
    git_state,
    job_benchmark_files,
    job_logs,
    seed_table,
)


# Landing page of `snakemake --report results/snakemake-report.zip` (captions: workflow/report/captions/).
report: "../report/workflow.rst"


# Read once at parse time and passed as params: a new commit, a dirty tree or an edited default config reruns
# provenance (and the report), nothing else.
GIT_STATE = git_state(workflow.basedir)
DEFAULT_CONFIG, DEFAULT_CONFIG_SOURCE = default_config(
    workflow.basedir, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
)


# A checkpoint, so that provenance can take the benchmark file of every job listed in dag.json as input: a new
# rule with a `benchmark:` line is timed without editing this file.
checkpoint dag:
    input:
        snakefiles=[
            workflow.main_snakefile,
            *sorted(
                str(p) for p in Path(workflow.basedir, "workflow/rules").glob("*.smk")
            ),
        ],
    output:
        png=report(
            "results/figures/audit/dag.png",
            caption="../report/captions/dag.rst",
            category="Report and provenance",
        ),
        graph="results/audit/dag.json",
    log:
        "logs/audit/dag.log",
    benchmark:
        "results/benchmarks/dag.tsv"
    conda:
        "../../environment.yml"
    params:
        snakefile=lambda wildcards, input: input.snakefiles[0],
        # what reruns this job; the inner snakemake gets the whole config (snakemake.config in the script)
        structure=structural_config(config),
        rules=lambda wildcards: rule_table(workflow.rules),
    script:
        "../scripts/dag.py"


rule provenance:
    input:
        data=[
            config["data"]["published"],
            config["data"]["benchmarks"],
            *get_participant_raw(None),
        ],
        graph=rules.dag.output.graph,
        benchmarks=lambda wildcards: job_benchmark_files(
            checkpoints.dag.get().output.graph, workflow.rules
        ),
    output:
        json=report(
            "results/provenance.json",
            caption="../report/captions/provenance.rst",
            category="Report and provenance",
        ),
    log:
        "logs/audit/provenance.log",
    conda:
        "../../environment.yml"
    params:
        config=config,
        configfiles=workflow.configfiles,
        default_config=DEFAULT_CONFIG,
        default_source=DEFAULT_CONFIG_SOURCE,
        git=GIT_STATE,
        seeds=lambda wildcards: seed_table(workflow.rules),
        # where jobs run in the job worker's forks, their CPU time and memory are at the end of their logs
        logs=lambda wildcards: job_logs(
            checkpoints.dag.get().output.graph, workflow.rules
        ),
    script:
        "../scripts/provenance.py"
