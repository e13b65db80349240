"""Provenance that travels with outputs: file hashes, package versions, the git state."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from reanalysis.worker import read_usage

ANALYSIS_PACKAGES = [
    "pymc", "pytensor", "nutpie", "arviz", "numpy", "scipy", "pandas", "xarray", "matplotlib", "snakemake",
    "jsonschema", "jinja2", "pyyaml",
]  # fmt: skip


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ANALYSIS_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_state(directory: str | Path) -> dict[str, str]:
    """Commit and whether the work tree differs from it; 'not a git checkout' outside one."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": "not a git checkout", "dirty": "unknown"}
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return {"commit": head.stdout.strip(), "dirty": "yes" if dirty else "no"}


def fit_attrs(track: str, model: str, prior_name: str, prior_set: dict, seed: int, sampler: dict, data_path) -> dict:
    """What every fitted InferenceData carries about how it was made (NetCDF attrs must be text or numbers)."""
    return {
        "track": track,
        "model": model,
        "prior_set": prior_name,
        "prior": json.dumps(prior_set),
        "seed": seed,
        "sampler": json.dumps(sampler),
        "data_sha256": sha256(data_path),
        "packages": json.dumps(package_versions()),
    }


# --- provenance.json (rule provenance): how this run was made, for a reviewer -----------------------------------

ABSENT = "(absent)"  # shown in the config diff for a key one side does not have


def all_package_versions() -> dict[str, str]:
    """Every installed distribution (name -> version), sorted: the full environment beside the analysis packages."""
    versions = dict(_name_and_version(d) for d in metadata.distributions())
    versions.pop(None, None)
    return dict(sorted(versions.items(), key=lambda kv: kv[0].lower()))


def _name_and_version(dist: metadata.Distribution) -> tuple[str | None, str | None]:
    """``dist.metadata["Name"]`` and ``dist.version``, read from the metadata's header lines. importlib parses the
    whole file as an e-mail message for them: 0.54 s for this environment's 150 distributions, in the provenance
    job that every rebuild waits for before its report (2026-12-03). The same file (METADATA, else PKG-INFO), and the
    first of each header; the headers end at the first empty line (tested against importlib on this environment)."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break
        key, sep, value = line.partition(":")
        if sep and key.lower() in ("name", "version"):
            found.setdefault(key.lower(), value.strip())
    return found.get("name") or None, found.get("version")


def schema_defaults(schema: dict) -> dict:
    """The config a schema implies when the user gives nothing: every ``default``, objects filled recursively."""
    out = {}
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub:
            out[key] = json.loads(json.dumps(sub["default"]))  # a copy
        if sub.get("type") == "object" and "properties" in sub:
            out[key] = {**schema_defaults(sub), **out.get(key, {})}
    return out


def default_config(repo_dir: str | Path, schema_path: str | Path) -> tuple[dict, str]:
    """The default config a run is compared with, and where it came from.

    config.yaml as committed at git HEAD (defaults filled in the same way as for a run, so only real choices
    differ); outside a git checkout, or if HEAD has no valid config.yaml, the schema's defaults.
    """
    from reanalysis.config import load_yaml, validate_config
    from reanalysis.errors import InputError

    try:
        shown = subprocess.run(["git", "show", "HEAD:config.yaml"], cwd=repo_dir, capture_output=True, text=True,
                               timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as err:  # no git binary
        shown, why = None, str(err)
    if shown is not None and shown.returncode == 0:
        try:
            return validate_config(load_yaml(shown.stdout), source="HEAD:config.yaml"), "config.yaml at git HEAD"
        except InputError as err:
            why = f"HEAD:config.yaml is not valid under the current schema ({err})"
    elif shown is not None:
        why = shown.stderr.strip() or "git show HEAD:config.yaml failed"
    schema = load_yaml(Path(schema_path).read_text())
    return schema_defaults(schema), f"schema defaults ({Path(schema_path).name}); no committed config: {why}"


def config_diff(default: dict, run: dict, prefix: str = "") -> list[dict]:
    """Rows (key, default, run) for every key path whose value differs; a key only one side has is one row.

    Dicts are compared key by key; anything else (numbers, text, lists) as a whole value.
    """
    rows = []
    for key in [*default, *(k for k in run if k not in default)]:
        path = f"{prefix}{key}"
        a, b = default.get(key, ABSENT), run.get(key, ABSENT)
        if isinstance(a, dict) and isinstance(b, dict):
            rows += config_diff(a, b, prefix=f"{path}.")
        elif a != b or (type(a) is not type(b) and not {type(a), type(b)} <= {int, float}):  # True == 1, yet differs
            rows.append({"key": path, "default": a, "run": b})
    return rows


def read_benchmark(path: str | Path) -> dict:
    """One Snakemake benchmark file (tab-separated, header + one row per repeat) -> seconds and memory of the job."""
    lines = Path(path).read_text().strip().splitlines()
    if len(lines) < 2:
        raise ValueError(
            f"{path}: expected a header and a row of Snakemake benchmark values, found {len(lines)} line(s)"
        )
    row = dict(zip(lines[0].split("\t"), lines[1].split("\t"), strict=False))

    def number(key):
        try:
            return float(row[key])
        except (KeyError, ValueError):
            return None  # "NA" when the job was too short to measure

    return {"seconds": number("s"), "cpu_seconds": number("cpu_time"), "max_rss_mb": number("max_rss")}


def job_runtimes(paths, root: str = "results/benchmarks", logs: dict | None = None) -> list[dict]:
    """Per job: rule, job (its wildcard values), seconds, CPU seconds, peak memory (MB), and where the last two
    were measured (``measured_by``).

    Benchmark files are named ``<root>/<rule>.tsv`` for a rule with one job, ``<root>/<rule>/<wildcards>.tsv``
    otherwise. A job that ran in the job worker's fork has its fork's CPU time and peak memory at the end of its
    log (``logs``: benchmark file -> log file); Snakemake's benchmark then measured only the script process that
    handed the job over, so the fork's figures replace its CPU and memory (its wall time is the job's).
    """
    out = []
    for p in paths:
        if not Path(p).is_relative_to(root):
            raise ValueError(f"benchmark file {p} is not under {root}/: cannot tell which rule it measures")
        rel = Path(p).relative_to(root).with_suffix("")
        job = str(rel.relative_to(rel.parts[0])) if len(rel.parts) > 1 else ""
        row = {"rule": rel.parts[0], "job": job, "benchmark": str(p), **read_benchmark(p), "measured_by": "benchmark"}
        log = (logs or {}).get(str(p))
        usage = read_usage(log) if log else None
        if usage is not None:
            row |= {**usage, "measured_by": "job worker"}
        out.append(row)
    return out


def untimed_jobs(graph: dict, jobs: list[dict]) -> dict[str, int]:
    """Rule -> number of its jobs in the DAG (``dag.json``) without a benchmark file: rules that lack ``benchmark:``.
    Provenance and what runs after it are left out: their runtimes cannot be in this record."""
    timed = {}
    for j in jobs:
        timed[j["rule"]] = timed.get(j["rule"], 0) + 1
    after = downstream(graph, "provenance") | {"provenance"}
    return {
        rule: r["jobs"] - timed.get(rule, 0)
        for rule, r in graph["rules"].items()
        if rule not in after and r["jobs"] > timed.get(rule, 0)
    }


def build_provenance(*, config: dict, default: dict, default_source: str, git: dict, inputs, benchmarks,
                     seeds: dict, configfiles, graph: dict, built_at: str,
                     logs: dict | None = None) -> dict:  # fmt: skip
    """Everything provenance.json records; the only time-dependent parts are ``built_at`` and ``jobs``.

    ``graph`` is the rule graph of this run (``dag.json``): seeds are listed for its rules only, and jobs of its
    rules without a benchmark file are counted under ``untimed_jobs``. ``logs``: see :func:`job_runtimes`.
    """
    jobs = job_runtimes(benchmarks, logs=logs)
    return {
        "built_at": built_at,
        "git": dict(git),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "all_packages": all_package_versions(),
        "configfiles": [str(f) for f in configfiles],
        "config": config,
        "default_config_source": default_source,
        "config_diff": config_diff(default, config),
        "inputs": {str(p): sha256(p) for p in inputs},
        "seeds": {"seed": config.get("seed"), "by_rule": {r: v for r, v in seeds.items() if r in graph["rules"]}},
        "jobs": jobs,
        "untimed_jobs": untimed_jobs(graph, jobs),
        "total_job_seconds": round(sum(j["seconds"] or 0 for j in jobs), 2),
    }


def seed_table(rules) -> dict:
    """Snakemake rules (``workflow.rules``) -> name: the seed in its params (its random generators start there)."""
    return {r.name: value for r in rules for key, value in r.params.items() if key == "seed" and not callable(value)}


def downstream(graph: dict, rule: str) -> set[str]:
    """Rules that (transitively) consume an output of ``rule`` in the rule graph of ``dag.json``."""
    out, todo = set(), [rule]
    while todo:
        r = todo.pop()
        for u, v in graph["edges"]:
            if u == r and v not in out:
                out.add(v)
                todo.append(v)
    return out


def _benchmarked_jobs(graph_path: str | Path, rules) -> dict[str, str | None]:
    """Benchmark file -> log file (None without one) of every job in this run's DAG (``dag.json``) whose rule
    declares ``benchmark:``; not provenance's own or those of rules downstream of it (they run after it).

    A job is known by its output files; ``rule.get_wildcards`` (Snakemake's own matching, constraints included)
    turns each into the job's wildcards, which fill the rule's benchmark and log patterns.
    """
    from snakemake.io import strip_wildcard_constraints

    graph = json.loads(Path(graph_path).read_text())
    after = downstream(graph, "provenance") | {"provenance"}
    out = {}
    for rule in rules:
        if not rule.benchmark or rule.name in after or rule.name not in graph["rules"]:
            continue
        pattern = strip_wildcard_constraints(str(rule.benchmark))
        log = strip_wildcard_constraints(str(rule.log[0])) if rule.log else None
        jobs = {}
        for f in graph["rules"][rule.name]["files"]:
            wildcards = rule.get_wildcards(f)
            jobs[pattern.format(**wildcards)] = log.format(**wildcards) if log else None
        out |= dict(sorted(jobs.items()))
    return out


def job_benchmark_files(graph_path: str | Path, rules) -> list[str]:
    """The benchmark file of every job of this run that has one (see :func:`_benchmarked_jobs`)."""
    return list(_benchmarked_jobs(graph_path, rules))


def job_logs(graph_path: str | Path, rules) -> dict[str, str]:
    """Benchmark file -> log file of the same jobs, where the job worker's usage line is (``worker.read_usage``)."""
    return {bench: log for bench, log in _benchmarked_jobs(graph_path, rules).items() if log}
