"""End to end: the real Snakefile on a tiny config in a temporary directory.

One tiny run (2 prior sets, short chains) is shared by the module; the other tests copy its results and
change one thing (a prior, the gate, the data, the config), so each failure path costs seconds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from reanalysis.fit_files import read_fit
from reanalysis.stale import BANNER_ID, TITLE_MARK, mark_stale

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
DATA = REPO / "data" / "raw" / "published"


USER_COHORT = {
    "label": "Hand-made test cohort (not synthetic, not real)",
    "file": "",  # set to the file written by hand_made_cohort()
    "alliance": {"measure": "WAI", "min": 1, "max": 7},
    "alliance_timepoints": ["early", "late"],
    "baseline_timepoint": "baseline",
    "followups": ["fu1", "fu2"],
    "outcomes": {"PHQ-9": {"min": 0, "max": 27, "mcid": 5, "mcid_source": "test value"}},
}


def hand_made_cohort(path: Path) -> Path:
    """n = 14, differs from the synthetic cohorts: other instruments and timepoints, fu2 absent for two
    participants (rows missing from the file), and empty cells."""
    rng = __import__("numpy").random.default_rng(7)
    rows = []
    for i in range(14):
        pid, alliance = f"U{i + 1:02d}", rng.normal(5, 0.8)
        rows += [
            (pid, "early", "WAI", round(min(max(alliance, 1), 7), 2)),
            (pid, "late", "WAI", "" if i == 3 else round(min(max(alliance + 0.4 + rng.normal(0, 0.4), 1), 7), 2)),
        ]  # noqa: E501 fmt: skip
        base = rng.normal(17, 3)
        rows.append((pid, "baseline", "PHQ-9", round(min(max(base, 0), 27))))
        for t, shift in (("fu1", -8), ("fu2", -9)):
            if t == "fu2" and i in (5, 9):
                continue  # absent follow-up: the validator adds the row as missing and logs it
            y = base + shift - 2.5 * (alliance - 5) + rng.normal(0, 2.5)
            rows.append((pid, t, "PHQ-9", "" if (i, t) == (11, "fu1") else round(min(max(y, 0), 27))))
    pd.DataFrame(rows, columns=["participant_id", "timepoint", "measure", "value"]).to_csv(path, index=False)
    return path


def tiny_config(user_file: Path | None = None) -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["data"] = {k: str(REPO / v) for k, v in cfg["data"].items()}
    cfg["priors"] = {k: cfg["priors"][k] for k in ("reference", "sceptical")}
    cfg["cohorts"] = {"ptsd": cfg["cohorts"]["ptsd"]}  # the synthetic design as calibrated: CAPS-5 and IES-R
    if user_file is not None:
        cfg["cohorts"]["mine"] = {**USER_COHORT, "file": str(user_file)}
    # short chains: this checks the plumbing, not the science, so the gate is scaled to the draws
    cfg["sampler"].update(chains=2, draws=2000, tune=500, prior_draws=300)
    cfg["sampler"]["retry"] = {"tune": 1000, "target_accept": 0.995}  # a failing first attempt costs little here
    cfg["gate"].update(ess_bulk_min=100, ess_tail_min=100, r_hat_max=1.05)
    # SBC plumbing only: a few short replicates per model (the verdict is "too few replicates to judge")
    cfg["sbc_settings"].update(replicates={"quick": 3, "full": 200}, chains=1, draws=100, tune=100, thin_to=19)
    cfg["worker_keep"] = 0  # no run here leaves its worker behind (test_a_kept_worker_serves_the_next_run keeps one)
    return cfg


def write_config(workdir: Path, cfg: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    # --cores 4 on 2 cores, as `make run` does: a fit job's single-threaded phases (imports, compile, log densities)
    # leave a core idle that another job can use
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "4", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Job counts from a dry run's 'Job stats' table."""
    table = result.stdout.split("Job stats:")[1].split("\n\n")[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m[1] != "total"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("tiny")
    write_config(workdir, tiny_config(hand_made_cohort(workdir / "mine.csv")))
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return dst


def test_report_has_every_section(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    for anchor in [
        "question",
        "data",
        "audit",
        "model",
        "priors",
        "results",
        "n-sensitivity",
        "participants",
        "cohort-ptsd",
        "cohort-mine",
        "diagnostics",
        "provenance",
        "workflow",
        "prior-predictive",
        "sensitivity",
        "loo",
        "sbc",
        "barg",
    ]:
        assert f'id="{anchor}"' in html, anchor
    assert "Convergence gate: every fit passed" in html
    assert "inconsistent at n = 24" in html  # the audit finds Levin's n on its own
    # figures inlined (the report opens offline): 2 for Track A; slopes + PPC per outcome, trajectory per cohort;
    # the pipeline's DAG; per fitted model (Track A, its n-sensitivity fit, 3 outcome and 2 alliance models) prior
    # predictive, sensitivity and Pareto k, SBC per model (7), Track A's prior predictive
    # again beside the prior sets; the alliance model's posterior predictive check per cohort
    assert html.count("data:image/png;base64,") == 2 + (2 * 2 + 1) + (2 + 1) + 1 + 7 * 3 + 7 + 1 + 2
    assert html.count("means and SDs outside the 95% predictive interval") == 3 + 2  # a reading beside each Track B PPC
    barg = html.split('id="barg-table"')[1].split("</table>")[0]
    assert barg.count("<tr") == 10 and ">missing<" not in barg  # every BARG item links to a section of this build
    ptsd, mine = html.split('id="cohort-ptsd"')[1].split('id="cohort-mine"')
    assert "SYNTHETIC DATA" in ptsd and "SYNTHETIC" not in mine.split("<h2")[0]
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # base64 can spell anything
    assert not re.search(r"\b(P|U)\d\d\b", text)  # no participant-level row in the report
    assert "http://" not in html.replace("http://json-schema.org", "") and "https://" not in html
    for digest in ["610a4167039ba9f860d49617895173729564c91be3db597487537cfc39c69654"]:
        assert digest in html


def test_tables(tiny_run):
    tables = tiny_run / "results" / "tables"
    summary = pd.read_csv(tables / "posterior_summary.csv")
    assert list(summary.columns[:5]) == ["track", "model", "prior_set", "parameter", "labels"]
    assert set(summary["prior_set"]) == {"reference", "sceptical"}
    assert set(summary["track"]) == {"published", "participant"}
    slopes = summary[(summary.model == "mine_outcome_PHQ-9") & summary.parameter.str.startswith("slope_points[")]
    assert sorted(slopes.parameter.unique()) == [
        f"slope_points[{a},{t}]" for a in ("early", "late") for t in ("fu1", "fu2")
    ]
    pooled = summary[(summary.model == "published") & (summary.parameter == "rho_pooled")]
    assert len(pooled) == 2 and ((pooled.hdi_low < pooled["median"]) & (pooled["median"] < pooled.hdi_high)).all()
    assert summary["parameter"].str.startswith("rho_alliance_phase[").sum() == 4 * 3  # 4 phases x 3 fits
    probs = pd.read_csv(tables / "threshold_probabilities.csv")
    assert set(probs[probs.track == "published"]["threshold"]) == {
        "P(rho < 0)", "P(rho < -0.1)", "P(|rho| > 0.28)", "P(rho < -0.28)",
    }  # fmt: skip
    mcid_half = probs[(probs.model == "mine_outcome_PHQ-9") & (probs.threshold == "P(slope < -MCID/2)")]
    assert (mcid_half["value"] == -2.5).all() and len(mcid_half) == 2 * (1 + 4)  # priors x (mean + 4 cells)
    assert probs["probability"].between(0, 1).all()
    diag = pd.read_csv(tables / "diagnostics.csv")
    # Track A 3 fits; Track B 2 priors x 3 outcomes + 2 alliance; the 4 LOO variants (Track A, 3 outcomes)
    assert len(diag) == 3 + 8 + 4 and diag["passed"].all()
    assert diag["attempts"].isin([1, 2]).all()  # a first attempt, and the retry only if it failed the gate
    fits = tiny_run / "results" / "fits" / "ptsd_outcome_CAPS-5"
    # replicated data only in the first prior set's fit: the one the posterior predictive check reads
    assert "posterior_predictive" in read_fit(fits / "reference.nc").groups()
    assert "posterior_predictive" not in read_fit(fits / "sceptical.nc").groups()
    audit = pd.read_csv(tables / "audit.csv")
    assert audit.set_index("row_id").loc["L01", "n_implied"] in (20, 21)


def test_user_participant_file(tiny_run):
    data = tiny_run / "results" / "data" / "mine"
    log = pd.read_csv(data / "cleaning_log.csv")
    added = log[log["action"].str.contains("added")]
    assert sorted(added["participant_id"]) == ["U06", "U10"] and set(added["timepoint"]) == {"fu2"}
    miss = pd.read_csv(data / "missingness.csv").set_index(["measure", "timepoint"])
    assert miss.loc[("PHQ-9", "fu2"), "n_missing"] == 2 and miss.loc[("PHQ-9", "fu1"), "n_missing"] == 1
    assert miss.loc[("WAI", "late"), "n_missing"] == 1 and miss.loc[("WAI", "early"), "n_missing"] == 0
    freq = pd.read_csv(tiny_run / "results" / "tables" / "frequentist" / "mine.csv")
    assert len(freq) == 4 and set(freq["n"]) <= {11, 12, 13, 14}  # complete cases per pair


def test_lint_and_dry_run(tiny_run):
    lint = snakemake(tiny_run, "--lint")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "Congratulations" in lint.stdout + lint.stderr or "no lints" in (lint.stdout + lint.stderr).lower()
    dry = snakemake(tiny_run, "-n")
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr


def test_jobs_ran_in_the_worker_and_match_a_run_without_it(tiny_run, tmp_path):
    log = (tiny_run / "logs" / "worker.log").read_text()
    started, ended = re.findall(r"job (\d+) started", log), re.findall(r"job (\d+) ended with status (-?\d+)", log)
    jobs_with_logs = [p for p in (tiny_run / "logs").rglob("*.log") if p.name != "worker.log"]
    assert "refused" not in log and len(started) == len(ended) == len(jobs_with_logs), log
    assert {status for _, status in ended} == {"0"}
    # provenance reports each job's own CPU time and memory (the fork's, from its log), not the handing-over script's
    jobs = json.loads((tiny_run / "results" / "provenance.json").read_text())["jobs"]
    fits = [j for j in jobs if j["rule"] in ("fit", "fit_participant")]
    # (a fit samples 4 x 2,500 iterations: over 0.3 CPU-s; the script that hands it over waits on a socket)
    assert fits and all(j["measured_by"] == "job worker" and j["cpu_seconds"] > 0.3 for j in fits), fits
    assert all(j["max_rss_mb"] > 100 for j in fits), fits
    # the same fit and table made by a job in its own process (worker=False) are identical
    workdir = copy_run(tiny_run, tmp_path / "alone")
    targets = ["results/fits/published/sceptical.nc", "results/tables/posterior_summary.csv"]
    result = snakemake(workdir, "--config", "worker=False", "--force", *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (workdir / "logs" / "worker.log").read_text() == log  # no server this time
    # the fit, its check_fit job (gate and tables: the forced fit is their input) and the summary
    assert len(re.findall(r"^Finished jobid", result.stdout + result.stderr, re.M)) == 3
    alone, forked = read_fit(workdir / targets[0]), read_fit(tiny_run / targets[0])
    for name in forked.posterior.data_vars:
        assert (alone.posterior[name].values == forked.posterior[name].values).all(), name
    assert (workdir / targets[1]).read_bytes() == (tiny_run / targets[1]).read_bytes()


def test_a_kept_worker_serves_the_next_run(tiny_run, tmp_path):
    """worker_keep: the first run's server stays after it; the next run takes it over (no new server imports) and
    its jobs run there; ``python -m reanalysis.worker stop`` stops it."""
    workdir = copy_run(tiny_run, tmp_path / "kept")
    target = ["--config", "worker_keep=60", "--force", "results/tables/posterior_summary.csv"]
    logs = []
    try:
        for _ in range(2):
            result = snakemake(workdir, *target)
            assert result.returncode == 0, result.stderr[-3000:]
            logs.append((workdir / "logs" / "worker.log").read_text())
    finally:
        stopped = subprocess.run([sys.executable, "-m", "reanalysis.worker", "stop"], cwd=workdir, text=True,
                                 capture_output=True, timeout=60)  # fmt: skip
    first, second = logs
    assert "serving jobs" in first and "kept from an earlier run" not in first, first
    assert "kept from an earlier run" in second and "modules; serving jobs" not in second, second  # no new import
    assert "refused" not in second and len(re.findall(r"job \d+ ended with status 0", second)) == 1, second
    pid = int(re.search(r"process (\d+)", stopped.stdout)[1])
    assert stopped.stdout.startswith("stopped the kept job worker"), stopped.stdout + stopped.stderr
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_fits_of_every_kind_read_as_xarray_reads_them(tiny_run):
    """reanalysis.fit_files reads the groups itself: the same Datasets as xarray's reader, on the run's real fits
    (Track A, outcome and alliance models, the user's cohort)."""
    from test_fit_files import assert_read_as_xarray_reads

    fits = sorted((tiny_run / "results" / "fits").rglob("*.nc"))
    assert len({p.parent.name for p in fits}) >= 4, fits
    for path in fits:
        assert_read_as_xarray_reads(path)


def test_prior_edit_plans_only_that_prior(tiny_run, tmp_path):
    workdir = copy_run(tiny_run, tmp_path / "edit")
    cfg = tiny_config(tiny_run / "mine.csv")
    cfg["priors"]["sceptical"]["rho"]["upper95"] = 0.25
    write_config(workdir, cfg)
    dry = snakemake(workdir, "-n")
    assert dry.returncode == 0, dry.stderr
    jobs = planned_jobs(dry)
    assert jobs.get("fit") == 1 and jobs.get("fit_participant") == 3 and jobs.get("check_fit") == 4, jobs
    # SBC and the LOO variants run under the first prior set only: an edit of another set leaves them alone
    assert jobs.get("workflow_checks") == 4 and not {"sbc_chunk", "fit_variant_published"} & set(jobs), jobs
    # the joined tables are remade from the edited fits' own tables (check_fit); the variant comparison is left alone
    assert "compare_variant" not in jobs, jobs
    assert "dag" not in jobs, jobs  # a prior's numbers never change which jobs exist
    refit = set(re.findall(r"rule fit(?:_participant)?:\n\s+input: .*\n\s+output: (\S+\.nc)", dry.stdout))
    assert refit == {
        "results/fits/published/sceptical.nc",
        "results/fits/ptsd_outcome_CAPS-5/sceptical.nc",
        "results/fits/ptsd_outcome_IES-R/sceptical.nc",
        "results/fits/mine_outcome_PHQ-9/sceptical.nc",
    }, refit
    data_jobs = {"validate_published", "audit_published", "observations", "participant_data", "frequentist"}
    assert not data_jobs & set(jobs), jobs


def test_failing_gate_stops_with_message(tiny_run, tmp_path):
    workdir = copy_run(tiny_run, tmp_path / "gate")
    cfg = tiny_config(tiny_run / "mine.csv")
    cfg["gate"]["ess_bulk_min"] = 10**6
    write_config(workdir, cfg)
    report = workdir / "results" / "report.html"
    before = report.read_text(encoding="utf-8")
    result = snakemake(workdir)
    assert result.returncode != 0
    # a LOO variant's gate (check_variant) names it as model.variant
    pattern = r"convergence gate failed for model '([\w.-]+)', prior set '(\w+)': ess_bulk \d+ < 1e\+06 for \S+"
    failed = [
        m.groups() for log in (workdir / "logs" / "checks").rglob("*.log") if (m := re.search(pattern, log.read_text()))
    ]
    assert failed, "no check job reported the gate failure"
    for model, prior in failed:  # the failing job's output is removed: nothing half-written
        main, _, variant = model.partition(".")
        checks, fits = ("checks/variants", "variants") if variant else ("checks", "fits")
        name = f"{prior}.{variant}" if variant else prior
        assert not (workdir / "results" / checks / main / f"{name}.diagnostics.csv").exists()
        # the fit failed its first attempt and was sampled again with sampler.retry before the gate judged it
        measures = workdir / "results" / fits / main / f"{name}.convergence.json"
        attempts = json.loads(measures.read_text())["attempts"]
        assert [a["tune"] for a in attempts] == [500, 1000] and all("ess_bulk" in a["failures"][0] for a in attempts)
    # the report was not rebuilt from a failed fit, and the last good one now says it is out of date
    after = report.read_text(encoding="utf-8")
    banner = next(line for line in after.splitlines(keepends=True) if f'id="{BANNER_ID}"' in line)
    assert "Out of date: a later build failed" in banner and ".snakemake/log/" in banner
    assert after.replace(banner, "").replace(TITLE_MARK, "") == before
    assert "is marked out of date" in result.stderr


def test_flagged_gate_builds_red_report(tiny_run, tmp_path):
    workdir = copy_run(tiny_run, tmp_path / "flag")
    cfg = tiny_config(tiny_run / "mine.csv")
    cfg["gate"].update(ess_bulk_min=10**6, on_fail="flag")
    write_config(workdir, cfg)
    assert mark_stale(workdir / "results" / "report.html")  # as if an earlier build had failed
    # judge the existing draws against the new gate without refitting (README, "Changing the analysis"); a plain
    # run would refit every fit, since the fits' retry decision depends on the gate
    result = snakemake(workdir, "--rerun-triggers", "mtime", "input", "-R", "check_fit", "check_variant")
    assert result.returncode == 0, result.stderr[-3000:]
    html = (workdir / "results" / "report.html").read_text()
    diagnostics = pd.read_csv(workdir / "results" / "tables" / "diagnostics.csv")
    variants = diagnostics[diagnostics["model"].str.contains(".", regex=False)]
    assert sorted(variants["model"].str.split(".").str[1]) == ["phase_pooled", "student_t", "student_t", "student_t"]
    assert not variants["passed"].any() and variants["track"].notna().all()
    assert "Convergence gate FAILED for 15 fit(s)" in html and html.count('<tr class="failed">') == 15  # 11 + 4
    assert BANNER_ID not in html and TITLE_MARK not in html  # a successful build writes the report afresh


def test_unknown_config_key_stops_before_any_job(tmp_path):
    cfg = tiny_config()
    cfg["published"]["likelihoood"] = "exact"
    write_config(tmp_path, cfg)
    result = snakemake(tmp_path)
    assert result.returncode != 0
    assert "unknown key(s) published.likelihoood" in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


def test_bad_data_row_stops_with_file_row_column(tmp_path):
    table = pd.read_csv(DATA / "alliance_outcome_published.csv", dtype=str, keep_default_na=False)
    table.loc[table.row_id == "L03", "value"] = "1.7"
    bad = tmp_path / "bad.csv"
    table.to_csv(bad, index=False)
    cfg = tiny_config()
    cfg["data"]["published"] = str(bad)
    write_config(tmp_path, cfg)
    result = snakemake(tmp_path)
    assert result.returncode != 0
    log = (tmp_path / "logs" / "data" / "validate_published.log").read_text()
    assert f"{bad}, row 'L03' (line 10), column 'value'" in log and "1.7" in log
    assert not (tmp_path / "results" / "data" / "published" / "clean.csv").exists()


def test_third_study_enters_model_tables_and_report(tiny_run, tmp_path):
    table = pd.read_csv(DATA / "alliance_outcome_published.csv", dtype=str, keep_default_na=False)
    new = pd.DataFrame([
        {**table.iloc[6].to_dict(), "row_id": "N01", "study": "Newstudy2026", "statistic": "std_beta",
         "value": "-0.30", "n_enrolled": "40", "alliance_phase": "post-dosing", "p_reported": ""},
        {**table.iloc[6].to_dict(), "row_id": "N02", "study": "Newstudy2026", "statistic": "r", "value": "-0.20",
         "n_enrolled": "40", "alliance_phase": "mid-treatment", "outcome_timepoint": "6 months", "p_reported": ".22"},
    ])  # fmt: skip
    path = tmp_path / "with_new_study.csv"
    pd.concat([table, new]).to_csv(path, index=False)
    workdir = copy_run(tiny_run, tmp_path / "third")
    cfg = tiny_config(tiny_run / "mine.csv")
    cfg["data"]["published"] = str(path)
    write_config(workdir, cfg)
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = pd.read_csv(workdir / "results" / "tables" / "posterior_summary.csv")
    assert "rho_study[Newstudy2026]" in set(summary["parameter"])
    assert {"rho_row[N01]", "rho_row[N02]"} <= set(summary["parameter"])
    html = (workdir / "results" / "report.html").read_text()
    assert "Newstudy2026" in html and "Peterson &amp; Brown" in html
