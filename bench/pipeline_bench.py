"""Pipeline side of the benchmark: wall time and peak memory of what a user waits for.

    python bench/pipeline_bench.py --out bench/results/pipeline.json [--cores 4]

Runs in a throw-away copy of the committed tree (``git archive HEAD``) with the project's .venv, so the
checkout's results/ and the user's compile cache are never touched. Measured, in this order ((m) first):

(a) ``snakemake --cores N`` from nothing with an empty PyTensor/numba compile cache (cold);
(a') the same again after ``rm -rf results`` with the cache now warm;
(b) after editing one prior set (sceptical rho interval) -- the rebuild a user waits for when trying a prior --
    with the job worker (a') kept (config ``worker_keep``), as in a user's loop of editing and rebuilding; then
    (b2) the edit undone, the same 21 jobs again, the same way (a second measure of (b));
(b') the edit made again, the same 21 jobs with ``--config worker=False`` (a new process per job);
(b0) the edit undone once more, after stopping the kept worker: the rebuild with a new worker, as a first run
    or one more than ``worker_keep`` seconds after the last has;
(c) ``snakemake -n`` with nothing to do (median of 3), no kept worker (each dry run starts one and stops it);
(d) one Track A fit in a fresh Python process: compile + first fit, then a refit under another prior set
    through ``with_data`` (no recompile; median of 3), with the default sampler settings, each judged by the
    gate and sampled again with ``sampler.retry`` when it fails, as in the fit job;
(e) simulation-based calibration of the Track A model with ``sbc: full`` (200 replicates, chunked jobs);
(m) memory: the cold pipeline once more, in its own copy with its own empty cache, run first and not timed.

(a), (a'), (c) and (e) start without a kept worker (each copy is a new project directory, and a kept one is
stopped before them); every kept worker is stopped before the copy is removed.

Peak RSS is the largest sum of resident memory over the whole process tree, polled every 0.1 s in every run
(``/proc/<pid>/statm``: microseconds per process). Peak PSS, the same with shared pages divided among the
processes sharing them (the job worker's forks share its libraries), needs a walk of every process's page
tables (``smaps_rollup``): 11 ms of CPU per process of 360 MB, 4.7 CPU-s over one prior-edit rebuild of 26 s on
2 cores, which slows the run it measures. So PSS is polled only in the memory run (m), whose time is not a result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"


def machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],  # > 0.5 at start: something else was running
    }


def timed(cmd: list[str], cwd: Path, env: dict, pss: bool = False) -> dict:
    """Run ``cmd``; wall seconds, peak RSS (and with ``pss``, peak PSS) of its process tree (GiB), and the number of
    jobs Snakemake ran.

    The RSS sum counts a page shared by several processes (the job worker's forks share its imported libraries)
    once per process; PSS divides it among them, so its sum is the physical memory the tree used. Polling PSS
    costs the machine CPU (module docstring): a run polled with ``pss`` is slowed by its own measurement.
    """
    peak = [0, 0]
    began = time.time()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()

    def poll():
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                procs = []
            rss = shared = 0
            for p in procs:
                try:
                    memory = p.memory_full_info() if pss else p.memory_info()
                except psutil.Error:  # ended since it was listed
                    continue
                rss, shared = rss + memory.rss, shared + (memory.pss if pss else 0)
            peak[:] = max(peak[0], rss), max(peak[1], shared)
            time.sleep(0.1)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    done.set()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-4000:]}")
    jobs = sum(1 for line in out.splitlines() if line.startswith("Finished jobid"))
    gib = [round(x / 2**30, 3) for x in peak]
    result = {"seconds": round(wall, 2), "peak_rss_gib": gib[0], "jobs": jobs}
    return result | ({"peak_pss_gib": gib[1]} if pss else {}) | worker_notes(out, cwd, began)


def worker_notes(out: str, cwd: Path, since: float) -> dict:
    """What went unusually with the job worker in a run: jobs that ran in their own process (the script says why on
    stderr) and the worker log's refusals, slow requests and kept servers not taken over; empty when nothing did."""
    notes = {}
    fallbacks = [line.strip() for line in out.splitlines() if "job worker not used" in line]
    if fallbacks:
        notes["jobs_not_in_worker"] = fallbacks
    log = cwd / "logs" / "worker.log"
    marks = ("refused", "to arrive", "not taken over")
    written = log.exists() and log.stat().st_mtime >= since  # not the log of an earlier run (worker=False)
    lines = [line for line in log.read_text().splitlines() if any(m in line for m in marks)] if written else []
    if lines:
        notes["worker_log"] = lines
    return notes


def copy_tree(dest: Path) -> None:
    """The committed tree (what a fresh clone has), plus the project's environment as a symlink."""
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    (dest / ".venv").symlink_to(ROOT / ".venv")


def check_imports_from(work: Path, env: dict) -> None:
    code = "import models, reanalysis; print(models.__file__); print(reanalysis.__file__)"
    out = subprocess.run([str(VENV_BIN / "python"), "-c", code], cwd=work, env=env, check=True, capture_output=True,
                         text=True).stdout.split()  # fmt: skip
    if not all(Path(p).resolve().is_relative_to(work.resolve()) for p in out):
        raise RuntimeError(f"the bench copy imports code from outside itself: {out}")


SCEPTICAL, EDITED = "rho: {lower95: -0.3, upper95: 0.3}", "rho: {lower95: -0.35, upper95: 0.3}"


def stop_kept_worker(work: Path, env: dict) -> str:
    """Stop the job worker a run in ``work`` kept (config worker_keep), so that the next run starts its own."""
    cmd = [str(VENV_BIN / "python"), "-m", "reanalysis.worker", "stop"]
    return subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True, text=True).stdout.strip()


def edit_prior(config: Path, old: str = SCEPTICAL, new: str = EDITED) -> None:
    text = config.read_text()
    if old not in text:
        raise RuntimeError(f"{config}: expected the sceptical prior line {old!r} to edit")
    config.write_text(text.replace(old, new, 1))


FIT_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np, yaml
from models.compile import compile_nutpie, with_data
from models.priors import to_z_prior
from models.published import prior_data
from models.sampling import SamplerSettings, nutpie_draw, with_retry
from reanalysis import builders
from reanalysis.config import validate_config
from reanalysis.diagnostics import Gate, RetryTest
cfg = validate_config(yaml.safe_load(open("config.yaml")))
p = cfg["published"]
t1 = time.perf_counter()
built = builders.published("results/data/published/observations.reported.csv", p["grouping"],
                           cfg["priors"]["reference"], p["likelihood"])
s = SamplerSettings.from_config(cfg["sampler"], cores=2)
gate = RetryTest(Gate.from_config(cfg["gate"]))  # as in the fit job: draws failing the gate are sampled again
compiled = compile_nutpie(built.model, sys.argv[1])  # sampler.gradient: handwritten | pytensor
t2 = time.perf_counter()
with_retry(nutpie_draw(compiled), s, 1, gate)
t3 = time.perf_counter()
refits, attempts = [], []
for i, name in enumerate(["sceptical", "psychotherapy", "enthusiastic"]):
    new = {k: np.asarray(v) for k, v in prior_data(to_z_prior(cfg["priors"][name], p["grouping"])).items()}
    t = time.perf_counter()
    idata = with_retry(nutpie_draw(with_data(compiled, new)), s, 2 + i, gate)
    refits.append(time.perf_counter() - t)
    attempts.append(len(json.loads(idata.attrs["sampler_attempts"])))
draws = s.chains * s.draws
print(json.dumps({"import_s": t1 - t0, "compile_s": t2 - t1, "first_fit_s": t3 - t2,
                  "compile_plus_first_fit_s": t3 - t1, "process_total_s": t3 - t0,
                  "refit_s": sorted(refits)[1], "refits_s": refits, "refit_attempts": attempts, "draws": draws}))
"""


def fit_times(cwd: Path, env: dict, gradient: str = "handwritten") -> dict:
    out = subprocess.run([str(VENV_BIN / "python"), "-c", FIT_SNIPPET, gradient], cwd=cwd, env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out.strip().splitlines()[-1])


def fit_attempts(work: Path) -> dict:
    """How many fits of a run took one sampling attempt and how many needed the retry (diagnostics tables)."""
    import pandas as pd

    rows = pd.concat([pd.read_csv(p) for p in (work / "results" / "checks").rglob("*.diagnostics.csv")])
    return {str(k): int(v) for k, v in rows["attempts"].value_counts().sort_index().items()}


def bench_copy(tmp: Path) -> tuple[Path, dict]:
    """A copy of the committed tree in ``tmp`` and an environment that runs its code with an empty compile cache.

    The .venv's editable install points at this checkout; PYTHONPATH puts the copy's own models/ and reanalysis/
    first, so the bench measures the committed code and nothing uncommitted.
    """
    work = tmp / "repo"
    work.mkdir()
    copy_tree(work)
    pythonpath = os.pathsep.join([str(work), str(work / "workflow" / "lib")])
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={tmp / 'pytensor-cache'}", "PYTHONPATH": pythonpath}
    check_imports_from(work, env)
    return work, env


def measure(results: dict, snake: list[str], work: Path, env: dict, tmp: Path) -> None:
    print("(a) cold pipeline ...", flush=True)
    results["a_cold"] = timed(snake, work, env)
    results["a_cold"]["attempts"] = fit_attempts(work)
    print(results["a_cold"], "\n(a') warm cache, results removed, a new worker ...", flush=True)
    shutil.rmtree(work / "results")
    stop_kept_worker(work, env)
    results["a_warm"] = timed(snake, work, env)
    print(results["a_warm"], "\n(b) after one prior edit, the worker kept from (a') ...", flush=True)
    edit_prior(work / "config.yaml")
    results["b_prior_edit"] = timed(snake, work, env)
    print(results["b_prior_edit"], "\n(b2) the edit undone, the worker kept ...", flush=True)
    edit_prior(work / "config.yaml", EDITED, SCEPTICAL)
    results["b_prior_edit_again"] = timed(snake, work, env)
    print(results["b_prior_edit_again"], "\n(b') the edit made again, without the job worker ...", flush=True)
    edit_prior(work / "config.yaml")  # the same 21 jobs again, each in its own process
    results["b_prior_edit_no_worker"] = timed([*snake, "--config", "worker=False"], work, env)
    print(results["b_prior_edit_no_worker"], "\n(b0) the edit undone, no kept worker ...", flush=True)
    stop_kept_worker(work, env)
    edit_prior(work / "config.yaml", EDITED, SCEPTICAL)
    results["b_prior_edit_new_worker"] = timed(snake, work, env)
    print(results["b_prior_edit_new_worker"], "\n(c) snakemake -n ...", flush=True)
    stop_kept_worker(work, env)
    dry = [timed([*snake, "-n"], work, env)["seconds"] for _ in range(3)]
    results["c_dry_run"] = {"seconds": sorted(dry)[1], "runs": dry}
    print(results["c_dry_run"], "\n(d) one Track A fit ...", flush=True)
    results["d_fit_warm_cache"] = fit_times(work, env)
    cold_env = {**env, "PYTENSOR_FLAGS": f"base_compiledir={tmp / 'pytensor-cold'}"}
    results["d_fit_cold_cache"] = fit_times(work, cold_env)
    # the same refits with PyTensor's compiled gradient (sampler.gradient: pytensor), side by side
    results["d_fit_pytensor_gradient"] = fit_times(work, env, "pytensor")
    print(results["d_fit_warm_cache"], results["d_fit_cold_cache"], "\n(e) SBC full, Track A ...", flush=True)
    results["e_sbc_full_track_a"] = timed(
        [*snake, "--config", "sbc=full", "--", "results/tables/sbc/published.csv"], work, env
    )
    print(results["e_sbc_full_track_a"], flush=True)
    sbc = work / "results" / "tables" / "sbc" / "published.csv"
    if sbc.exists():
        results["e_sbc_full_track_a"]["summary_csv"] = sbc.read_text()


def main(out: Path, cores: int) -> dict:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True, capture_output=True, text=True)
    results = {"machine": machine(), "cores": cores, "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
               "commit": commit.stdout.strip()}  # fmt: skip
    snake = [str(VENV_BIN / "snakemake"), "--cores", str(cores)]
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as tmp:
        print("(m) memory: cold pipeline with PSS polled (not timed) ...", flush=True)
        work, env = bench_copy(Path(tmp))
        try:
            results["m_memory_cold"] = timed(snake, work, env, pss=True)  # seconds slowed by the polling
        finally:
            stop_kept_worker(work, env)
        print(results["m_memory_cold"], flush=True)
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as tmp:
        work, env = bench_copy(Path(tmp))
        try:
            measure(results, snake, work, env, Path(tmp))
        finally:
            stop_kept_worker(work, env)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "pipeline.json")
    parser.add_argument("--cores", type=int, default=4)
    args = parser.parse_args()
    if not (VENV_BIN / "snakemake").exists():
        sys.exit("run `make run` or `make test` first: the benchmark uses the project's .venv")
    main(args.out, args.cores)
