"""Draw the pipeline's rule graph (jobs grouped by rule) for this config, without Graphviz."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from reanalysis.dag import RuleInfo, deleted_while_listed, draw, group_by_rule, parse_dot, parse_summary
from reanalysis.scripting import log_to

# provenance reads the benchmark file of nearly every job: its edges would cross the whole picture
COLLAPSED = {"provenance": "reads every job's benchmark file"}


def ask_snakemake(snakefile: str, config: dict, what: str, log, tries: int = 5) -> str:
    """`snakemake --dag` or `--summary` for this config, run from inside the job (--nolock: the running workflow
    holds the lock).

    While this job runs, the running workflow deletes the old outputs of jobs it is about to rerun; a file listed
    and then gone fails the inner DAG build (reanalysis.dag.deleted_while_listed). That race, and only that, is
    asked again.
    """
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as cfg:
        yaml.safe_dump(config, cfg, sort_keys=False)
        cfg.flush()
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", snakefile, "--directory", str(Path.cwd()),
               "--configfile", cfg.name, what, "--nolock", "--ignore-incomplete"]  # fmt: skip
        for attempt in range(1, tries + 1):
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            log.info("%s (try %d)\n%s", " ".join(cmd), attempt, result.stderr)
            if result.returncode == 0 or not deleted_while_listed(result.stderr):
                break
            time.sleep(2.0)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {what} failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def main(snakefile: str, config: dict, rules: dict, out_png: str, out_json: str, log) -> None:
    nodes, edges = parse_dot(ask_snakemake(snakefile, config, "--dag", log))
    graph = group_by_rule(nodes, edges, parse_summary(ask_snakemake(snakefile, config, "--summary", log)))
    info = {name: RuleInfo(name, r["script"], r["rulefile"], tuple(r["outputs"])) for name, r in rules.items()}
    n_jobs = sum(graph.jobs.values())
    title = f"Pipeline for this config: {len(graph.jobs)} rules, {n_jobs} jobs (arrow: output feeds input)"
    draw(graph, info, out_png, title=title, collapse=COLLAPSED)
    Path(out_json).write_text(json.dumps(graph.to_dict(info), indent=1) + "\n")
    log.info("wrote %s and %s: %s", out_png, out_json, graph.jobs)


with log_to(snakemake.log[0]) as log:
    main(snakemake.params.snakefile, dict(snakemake.config), dict(snakemake.params.rules),
         snakemake.output.png, snakemake.output.graph, log)  # fmt: skip
