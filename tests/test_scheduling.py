"""reanalysis.scheduling: the end-of-run hooks cancel Snakemake's rescheduling timers, and only those; with greedy
job selection, a run starts every job without solving an integer program."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from reanalysis.scheduling import cancel_rescheduling_timers


def test_only_snakemakes_timers_are_cancelled():
    def release():  # as JobScheduler._schedule_reevalutation's lambda, which lives in snakemake.scheduling
        pass

    release.__module__ = "snakemake.scheduling.job_scheduler"
    theirs, ours = threading.Timer(30, release), threading.Timer(30, lambda: None)
    theirs.start()
    ours.start()
    try:
        assert cancel_rescheduling_timers() == 1
        theirs.join(timeout=5)
        assert not theirs.is_alive()  # the process no longer waits 30 s for it
        assert ours.is_alive() and not ours.finished.is_set()
    finally:
        ours.cancel()
        theirs.cancel()


# four independent one-core jobs on two cores: Snakemake selects jobs at several passes. pulp's solve writes a marker,
# so a marker means the ILP was solved.
TINY_SNAKEFILE = """
import pulp
from reanalysis.scheduling import select_jobs_greedily

_solve = pulp.LpProblem.solve
def solve(self, *args, **kwargs):
    open("ilp_solved", "a").write("x\\n")
    return _solve(self, *args, **kwargs)
pulp.LpProblem.solve = solve
if config["greedy"]:
    assert select_jobs_greedily()

rule all:
    input: expand("out/{i}.txt", i=range(4))

rule one:
    output: "out/{i}.txt"
    shell: "echo {wildcards.i} > {output}"
"""


@pytest.mark.parametrize("greedy", [True, False])
def test_greedy_selection_runs_every_job_without_an_ilp_solve(tmp_path: Path, greedy: bool):
    (tmp_path / "Snakefile").write_text(TINY_SNAKEFILE)
    env_path = str(ROOT / "workflow" / "lib")
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--config", f"greedy={greedy}", "--scheduler", "ilp"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": env_path},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert sorted(p.read_text() for p in (tmp_path / "out").iterdir()) == [f"{i}\n" for i in range(4)]
    # without the greedy selection, the same run does solve (so the marker would show a solve)
    assert (tmp_path / "ilp_solved").exists() is (not greedy)
