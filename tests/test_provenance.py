"""Provenance and traceability: provenance.json (config diff, hashes, seeds, runtimes), the report's provenance
panel, the guard that keeps the report to its declared inputs, and, on the shared tiny run, that every table and
figure of the report names the rule and file it came from and that `snakemake --report` builds its zip."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from conftest import ROOT, run_snakemake

from reanalysis.config import validate_config
from reanalysis.provenance import (
    ABSENT,
    build_provenance,
    config_diff,
    default_config,
    job_benchmark_files,
    job_logs,
    job_runtimes,
    read_benchmark,
    schema_defaults,
    seed_table,
    untimed_jobs,
)
from reanalysis.report import UndeclaredInputError, declared_reads_only, provenance_context, render
from reanalysis.worker import USAGE_MARK, read_usage

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CAPTIONS = ROOT / "workflow" / "report" / "captions"
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def validated_repo_config() -> dict:
    return validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))


# --- config diff ----------------------------------------------------------------------------------------------------


def test_config_diff_names_the_key_path_and_both_values():
    default = validated_repo_config()
    run = copy.deepcopy(default)
    run["priors"]["sceptical"]["rho"]["lower95"] = -0.25
    assert config_diff(default, run) == [{"key": "priors.sceptical.rho.lower95", "default": -0.3, "run": -0.25}]
    assert config_diff(default, copy.deepcopy(default)) == []


def test_config_diff_absent_keys_lists_and_types():
    default = {"a": {"b": 1, "gone": {"x": 1}}, "lst": [1, 2], "flag": True, "n": 1, "same": 0.0}
    run = {"a": {"b": 1, "new": 2}, "lst": [1, 3], "flag": 1, "n": 1.5, "same": 0}
    assert config_diff(default, run) == [
        {"key": "a.gone", "default": {"x": 1}, "run": ABSENT},
        {"key": "a.new", "default": ABSENT, "run": 2},
        {"key": "lst", "default": [1, 2], "run": [1, 3]},  # a list is one value
        {"key": "flag", "default": True, "run": 1},  # equal in Python, not the same setting
        {"key": "n", "default": 1, "run": 1.5},
    ]  # 0.0 vs 0 is no difference


def test_schema_defaults_match_what_validation_fills_in():
    defaults = schema_defaults(yaml.safe_load(SCHEMA.read_text()))
    filled = validate_config({"priors": {"reference": {"rho": {"lower95": -0.5, "upper95": 0.5}, "heterogeneity": {
        g: 0.1 for g in ["study", "alliance_phase", "outcome_timepoint", "outcome", "residual"]}}}})  # fmt: skip
    assert "priors" not in defaults  # the schema gives no default prior set
    for key in ("seed", "data", "published", "sampler", "gate", "thresholds", "participant_residual"):
        assert defaults[key] == filled[key], key


def test_default_config_is_head_config_yaml_in_git():
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"],
                                                     capture_output=True).returncode != 0:  # fmt: skip
        pytest.skip("not a git checkout: the default config falls back to the schema (tested below)")
    config, source = default_config(ROOT, SCHEMA)
    assert source == "config.yaml at git HEAD"
    head = subprocess.run(["git", "-C", str(ROOT), "show", "HEAD:config.yaml"], capture_output=True, text=True)
    assert config == validate_config(yaml.safe_load(head.stdout))


def test_default_config_outside_git_is_the_schema_defaults(tmp_path):
    config, source = default_config(tmp_path, SCHEMA)
    assert config == schema_defaults(yaml.safe_load(SCHEMA.read_text()))
    assert source.startswith("schema defaults (config.schema.yaml); no committed config:")


# --- benchmarks, seeds ---------------------------------------------------------------------------------------------


def write_benchmark(path: Path, seconds: str, cpu: str = "1.5", rss: str = "120.5") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:12\t{rss}\t900\t100\t110\t0.1\t0.2\t80\t{cpu}\n")
    return path


def test_read_benchmark_and_job_runtimes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit = write_benchmark(Path("results/benchmarks/fit/published/reference.tsv"), "12.25")
    one = write_benchmark(Path("results/benchmarks/summarise.tsv"), "3.5", cpu="NA")
    assert read_benchmark(fit) == {"seconds": 12.25, "cpu_seconds": 1.5, "max_rss_mb": 120.5}
    assert job_runtimes([str(fit), str(one)]) == [
        {"rule": "fit", "job": "published/reference", "benchmark": str(fit), "seconds": 12.25, "cpu_seconds": 1.5,
         "max_rss_mb": 120.5, "measured_by": "benchmark"},
        {"rule": "summarise", "job": "", "benchmark": str(one), "seconds": 3.5, "cpu_seconds": None,
         "max_rss_mb": 120.5, "measured_by": "benchmark"},
    ]  # fmt: skip
    # a job run in the job worker: its fork's CPU and memory, from the last line of its log, replace the
    # benchmark's (which measured the script that handed the job over); a log without that line changes nothing
    Path("fit.log").write_text("INFO fitting\n" + USAGE_MARK + '{"cpu_seconds": 9.5, "max_rss_mb": 700.25}\n')
    Path("summarise.log").write_text("INFO summarising\n")
    forked, alone = job_runtimes([str(fit), str(one)], logs={str(fit): "fit.log", str(one): "summarise.log"})
    assert forked == {"rule": "fit", "job": "published/reference", "benchmark": str(fit), "seconds": 12.25,
                           "cpu_seconds": 9.5, "max_rss_mb": 700.25, "measured_by": "job worker"}  # fmt: skip
    assert alone["cpu_seconds"] is None and alone["measured_by"] == "benchmark"
    assert read_usage("absent.log") is None
    Path("empty.tsv").write_text(HEADER)
    with pytest.raises(ValueError, match="empty.tsv: expected a header and a row"):
        read_benchmark("empty.tsv")
    with pytest.raises(ValueError, match="not under results/benchmarks/"):
        job_runtimes(["elsewhere/fit.tsv"])


GRAPH = {
    "rules": {
        "fit": {"jobs": 2, "files": ["f/m/p.nc", "f/m/p.log.csv", "f/m/q.nc", "f/m/q.log.csv"]},
        "plot": {"jobs": 1, "files": ["plot.png"]},
        "dag": {"jobs": 1, "files": ["dag.png", "dag.json"]},
        "provenance": {"jobs": 1, "files": ["provenance.json"]},
        "report": {"jobs": 1, "files": ["report.html"]},
        "all": {"jobs": 1, "files": []},
    },
    "edges": [["fit", "plot"], ["plot", "report"], ["dag", "provenance"], ["provenance", "report"], ["report", "all"]],
}


def test_job_benchmark_files_fill_each_jobs_wildcards(tmp_path):
    path = tmp_path / "dag.json"
    path.write_text(json.dumps(GRAPH))

    def rule(name, benchmark):
        def get_wildcards(path):  # Snakemake matches the rule's output patterns; two outputs per fit job
            m = re.fullmatch(r"f/(\w+)/(\w+)\.(nc|log\.csv)", path)
            return {"model": m[1], "prior": m[2]} if m else {}

        log = ["logs/fit/{model,[a-z]+}/{prior}.log"] if name == "fit" else []
        return SimpleNamespace(name=name, benchmark=benchmark, get_wildcards=get_wildcards, log=log)

    rules = [rule("fit", "b/fit/{model,[a-z]+}/{prior}.tsv"), rule("plot", None), rule("dag", "b/dag.tsv"),
             rule("provenance", "b/p.tsv"), rule("report", "b/report.tsv"), rule("unused", "b/u.tsv")]  # fmt: skip
    # plot has no benchmark; provenance and the report run after provenance.json is written: not its inputs
    assert job_benchmark_files(path, rules) == ["b/fit/m/p.tsv", "b/fit/m/q.tsv", "b/dag.tsv"]
    # each job's log, by the same wildcards (dag has no log)
    assert job_logs(path, rules) == {"b/fit/m/p.tsv": "logs/fit/m/p.log", "b/fit/m/q.tsv": "logs/fit/m/q.log"}


def test_untimed_jobs_names_rules_without_benchmarks():
    jobs = [{"rule": "fit"}, {"rule": "dag"}]
    assert untimed_jobs(GRAPH, jobs) == {"fit": 1, "plot": 1}  # provenance and what follows it are never timed
    assert untimed_jobs(GRAPH, jobs + [{"rule": "fit"}, {"rule": "plot"}]) == {}


def test_seed_table():
    params = SimpleNamespace(items=lambda: [("seed", 7), ("other", 1)])
    rules = [SimpleNamespace(name="fit", params=params), SimpleNamespace(name="plot", params=SimpleNamespace(
        items=lambda: [("seed", lambda w: 1)]))]  # fmt: skip
    assert seed_table(rules) == {"fit": 7}  # a seed computed per job is not a value to record here


def small_provenance(tmp_path: Path, run_config: dict) -> dict:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    bench = write_benchmark(tmp_path / "results/benchmarks/fit/published/reference.tsv", "10")
    graph = {"rules": {"fit": {"jobs": 1}, "summarise": {"jobs": 1}, "report": {"jobs": 1}},
             "edges": [["provenance", "report"]]}  # fmt: skip
    return build_provenance(
        config=run_config, default=validated_repo_config(), default_source="config.yaml at git HEAD",
        git={"commit": "abc", "dirty": "no"}, inputs=[str(data)],
        benchmarks=[str(bench.relative_to(tmp_path))], seeds={"fit": 1, "sbc_chunk": 1},
        configfiles=["config.yaml"], graph=graph, built_at="2026-01-01T00:00:00Z",
    )  # fmt: skip


def test_build_provenance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prov = small_provenance(tmp_path, validated_repo_config())
    assert prov["inputs"] == {str(tmp_path / "data.csv"): hashlib.sha256(b"a,b\n1,2\n").hexdigest()}
    assert prov["packages"]["pymc"] == metadata.version("pymc") and prov["python"] == prov["packages"]["python"]
    assert prov["all_packages"]["snakemake"] == metadata.version("snakemake")
    assert prov["seeds"] == {"seed": 20241122, "by_rule": {"fit": 1}}  # sbc_chunk is not in this run's graph
    assert prov["untimed_jobs"] == {"summarise": 1} and prov["total_job_seconds"] == 10
    assert prov["config_diff"] == []
    json.dumps(prov)  # all of it is JSON


# --- the provenance panel --------------------------------------------------------------------------------------------


def render_panel(prov: dict) -> str:
    context = {"provenance": provenance_context(prov), "paths": {"provenance": "results/provenance.json"}}
    return render(ROOT / "workflow" / "report" / "provenance.html.j2", context)


def test_all_package_versions_are_importlibs():
    """The header reader gives what importlib's e-mail parser gives, for every distribution installed here."""
    from reanalysis.provenance import all_package_versions

    expected = {d.metadata["Name"]: d.version for d in metadata.distributions() if d.metadata["Name"]}
    got = all_package_versions()
    assert got == dict(sorted(expected.items(), key=lambda kv: kv[0].lower())) and len(got) > 50


def test_panel_without_differences(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    html = render_panel(small_provenance(tmp_path, validated_repo_config()))
    assert 'id="no-config-diff"' in html and "no differences from the default config" in html
    assert "priors.sceptical" not in html


def test_panel_shows_the_config_diff_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = validated_repo_config()
    run["priors"]["sceptical"]["rho"]["lower95"] = -0.25
    run["published"]["grouping"] = ["study"]
    html = render_panel(small_provenance(tmp_path, run))
    assert "no differences from the default config" not in html
    row = re.search(r"<tr>\s*<td>priors\.sceptical\.rho\.lower95</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", html)
    assert row and row.groups() == ("-0.3", "-0.25"), html
    assert "<td>[study, alliance_phase, outcome_timepoint, outcome]</td>" in html  # lists in YAML flow style
    assert "Not timed" in html and "summarise (1 job)" in html
    assert "abc" in html and hashlib.sha256(b"a,b\n1,2\n").hexdigest() in html


# --- the report reads only its declared inputs ------------------------------------------------------------------


def test_undeclared_read_fails_declared_read_passes(tmp_path):
    declared, undeclared = tmp_path / "declared.csv", tmp_path / "config.yaml"
    declared.write_text("x\n")
    undeclared.write_text("seed: 1\n")
    with declared_reads_only([str(declared)], [str(tmp_path)]):
        assert declared.read_text() == "x\n"
        (tmp_path / "out.html").write_text("writing is fine")
        assert metadata.version("pymc")  # the environment's own files are always allowed
        with pytest.raises(UndeclaredInputError, match=r"read .*config\.yaml, which is not one of its declared"):
            undeclared.read_text()
    assert undeclared.read_text() == "seed: 1\n"  # the guard is off outside the block


def test_report_script_runs_under_the_guard():
    script = (ROOT / "workflow" / "scripts" / "report.py").read_text()
    assert "with declared_reads_only(list(inputs)" in script
    library = (ROOT / "workflow" / "lib" / "reanalysis" / "report.py").read_text()
    assert "subprocess" not in library and "git_state" not in library  # git reaches the report via provenance.json


# --- on the shared tiny run ----------------------------------------------------------------------------------------

SOURCE = re.compile(r"Source: (?:rule <code>(\w+)</code> → |input file )<code>([^<]+)</code>")


def pattern_regex(pattern: str) -> re.Pattern:
    parts = re.split(r"\{[^}]+\}", pattern)
    return re.compile(".+".join(re.escape(p) for p in parts) + r"\Z")


@pytest.mark.e2e
def test_every_table_and_figure_names_its_rule_and_file(audit_run):
    html = (audit_run / "results" / "report.html").read_text()
    graph = json.loads((audit_run / "results" / "audit" / "dag.json").read_text())
    prov = json.loads((audit_run / "results" / "provenance.json").read_text())
    elements = list(re.finditer(r"<(table|img)\b", html))
    assert len(elements) >= 15
    for k, el in enumerate(elements):
        end = elements[k + 1].start() if k + 1 < len(elements) else len(html)
        where = f"<{el[1]}> at character {el.start()}: {html[el.start() : el.start() + 120]!r}"
        caption = re.search(r'<p class="source">(.*?)</p>', html[el.start() : end], re.S)
        assert caption, f"{where} has no source line before the next table or figure"
        m = SOURCE.search(caption[1])
        assert m, f"{where}: source line names no rule and file: {caption[1]!r}"
        rule, path = m.groups()
        if rule is None:
            assert path in prov["inputs"], f"{where}: {path} is not a hashed input file"
            continue
        assert rule in graph["rules"], f"{where}: rule {rule} is not in this run's DAG"
        outputs = graph["rules"][rule]["outputs"]
        assert any(pattern_regex(o).match(path) for o in outputs), f"{where}: rule {rule} writes {outputs}, not {path}"
        assert (audit_run / path).is_file(), f"{where}: {path} does not exist"


@pytest.mark.e2e
def test_provenance_json_of_the_run(audit_run):
    prov = json.loads((audit_run / "results" / "provenance.json").read_text())
    graph = json.loads((audit_run / "results" / "audit" / "dag.json").read_text())
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert prov["git"]["commit"] == head.stdout.strip() and prov["git"]["dirty"] in {"yes", "no"}
    for name, version in prov["packages"].items():
        assert name == "python" or version == metadata.version(name), name
    for path, digest in prov["inputs"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest
    by_rule = {"fit": 20241122, "fit_variant_published": 20241122, "sbc_chunk": 20241122, "check_fit": 20241122}
    assert prov["seeds"] == {"seed": 20241122, "by_rule": by_rule}
    assert prov["untimed_jobs"] == {}, (
        f"jobs without runtime {prov['untimed_jobs']}: give the rule a `benchmark:` under results/benchmarks/ and "
        "list it in BENCHMARKS in workflow/rules/audit.smk"
    )
    timed = {j["rule"] for j in prov["jobs"]}
    assert timed == set(graph["rules"]) - {"all", "report", "provenance"}
    assert all(j["seconds"] > 0 for j in prov["jobs"])
    diff = {row["key"]: (row["default"], row["run"]) for row in prov["config_diff"]}
    assert diff["sampler.chains"] == (4, 2) and diff["cohorts.ptsd"][1] == "(absent)"
    assert "priors.reference" not in diff  # kept as in the default config
    html = (audit_run / "results" / "report.html").read_text()
    assert "<td>sampler.chains</td>" in html and 'id="dag-figure"' in html


@pytest.mark.e2e
def test_snakemake_report_zip(audit_run, tmp_path):
    work = tmp_path / "run"
    shutil.copytree(audit_run, work, ignore=shutil.ignore_patterns("locks", "incomplete"))
    out = work / "results" / "snakemake-report.zip"
    result = run_snakemake(work, "--report", str(out), cores=1)
    assert result.returncode == 0, result.stderr[-3000:]
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        page = z.read("snakemake-report/report.html").decode()
    for name in ["dag.png", "provenance.json", "report.html", "audit.csv", "forest.png", "posterior_summary.csv",
                 "diagnostics.csv"]:  # fmt: skip
        assert any(n.endswith("/" + name) for n in names if n != "snakemake-report/report.html"), (name, names)
    shown = [re.sub(r"<[^>]+>", "", json.loads(c)) for c in re.findall(r'"caption": ("(?:[^"\\]|\\.)*")', page)]
    shown = [" ".join(c.split()) for c in shown]
    used = ["audit", "posterior_summary", "threshold_probabilities", "diagnostics", "phase_contrasts",
            "ppc_published", "forest", "rho_densities", "report", "dag", "provenance"]  # fmt: skip
    for name in used:
        first = " ".join((CAPTIONS / f"{name}.rst").read_text().replace("``", "").replace("**", "").split())[:60]
        assert any(c.startswith(first) for c in shown), f"caption {name}.rst not in the report: {first!r}"
