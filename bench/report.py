"""Write bench/results.md from the JSON files of one bench run (pipeline, samplers, brms, sampler settings).

python bench/report.py   # after bench/run.sh; reads bench/results/*.json
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _s(x: float) -> str:
    return f"{x:.1f} s" if x >= 1 else f"{x:.2f} s"


def pipeline_section(p: dict) -> list[str]:
    d_warm, d_cold = p["d_fit_warm_cache"], p["d_fit_cold_cache"]
    lines = [
        "## What a user waits for (pipeline)",
        "",
        _row("measure", "target", "measured", "met"),
        _row("---", "---", "---", "---"),
    ]
    checks = [
        ("(a) default pipeline, empty compile cache", 120, p["a_cold"]["seconds"]),
        ("(a') default pipeline again, warm compile cache", None, p["a_warm"]["seconds"]),
        ("(b) rebuild after editing one prior set (job worker kept from the run before)", 20,
         p["b_prior_edit"]["seconds"]),
    ]  # fmt: skip
    if "b_prior_edit_again" in p:
        checks.append(("(b) the same, the edit undone (a second measure)", 20, p["b_prior_edit_again"]["seconds"]))
    if "b_prior_edit_new_worker" in p:
        checks.append(("(b) the same rebuild with a new job worker (none kept: a first run, or `worker_keep: 0`)",
                       None, p["b_prior_edit_new_worker"]["seconds"]))  # fmt: skip
    if "b_prior_edit_no_worker" in p:
        checks.append(("(b) the same rebuild without the job worker (`--config worker=False`)", None,
                       p["b_prior_edit_no_worker"]["seconds"]))  # fmt: skip
    checks += [
        ("(c) `snakemake -n`, nothing to do (median of 3)", 3, p["c_dry_run"]["seconds"]),
        ("(d) Track A refit after compile (with_data, new prior set)", 0.5, d_warm["refit_s"]),
    ]
    if "d_fit_pytensor_gradient" in p:
        checks.append(("(d) the same refit with PyTensor's gradient (`sampler.gradient: pytensor`)", None,
                       p["d_fit_pytensor_gradient"]["refit_s"]))  # fmt: skip
    checks += [
        ("(d) Track A compile + first fit, warm cache", None, d_warm["compile_plus_first_fit_s"]),
        ("(d) Track A compile + first fit, empty cache", None, d_cold["compile_plus_first_fit_s"]),
    ]
    if "e_sbc_full_track_a" in p:
        checks.append(("(e) SBC of Track A, 200 replicates (sbc: full)", 180, p["e_sbc_full_track_a"]["seconds"]))
    for label, target, value in checks:
        met = "—" if target is None else ("yes" if value <= target else "**no**")
        lines.append(_row(label, "—" if target is None else f"≤ {target:g} s", _s(value), met))
    # (b) and (b2): the kept worker is not in their process tree; it was in (a') and (b0), the same server's start
    runs = [k for k in ("m_memory_cold", "a_cold", "a_warm", "b_prior_edit", "b_prior_edit_new_worker") if k in p]
    rss = max(p[k]["peak_rss_gib"] for k in runs)
    lines.append(
        _row("peak RSS of the default run (process tree)", "< 4 GiB", f"{rss:.2f} GiB", "yes" if rss < 4 else "**no**")
    )
    pss_runs = [k for k in runs if "peak_pss_gib" in p[k]]  # (m) only, since PSS polling slows what it measures
    if pss_runs:  # shared pages counted once: the memory the run really used
        pss = max(p[k]["peak_pss_gib"] for k in pss_runs)
        lines.append(_row("peak PSS of the default run (process tree)", "< 4 GiB", f"{pss:.2f} GiB",
                          "yes" if pss < 4 else "**no**"))  # fmt: skip
    lines += [
        "",
        f"Jobs run: cold {p['a_cold']['jobs']}, after the prior edit {p['b_prior_edit']['jobs']}. "
        f"A refit draws {d_warm['draws']} posterior draws (config `sampler`, first attempt); "
        f"attempts of the three timed refits: {d_warm.get('refit_attempts', 'not recorded')}. "
        f"Fits of the cold run by number of sampling attempts (2 = the gate sent it to `sampler.retry`): "
        f"{p['a_cold'].get('attempts', 'not recorded')}.",
        "",
    ]
    if "m_memory_cold" in p:
        lines += [
            "Memory: RSS is polled in every run (cheap); PSS only in a separate cold run (m), because reading it walks "
            "every process's page tables and slowed the runs it measured. That run took "
            f"{_s(p['m_memory_cold']['seconds'])} (slowed by its polling; not a timing result).",
            "",
        ]
    if "b_prior_edit_no_worker" in p:
        alone, forked = p["b_prior_edit_no_worker"]["seconds"], p["b_prior_edit"]["seconds"]
        lines += [
            f"The job worker (`reanalysis/worker.py`: job scripts run in forks of one pre-imported process) "
            f"against a new Python process per job, same prior edit: {alone / forked:.1f}× faster "
            f"({_s(alone)} → {_s(forked)}).",
            "",
        ]
    if "b_prior_edit_new_worker" in p:
        new, kept = p["b_prior_edit_new_worker"]["seconds"], p["b_prior_edit"]["seconds"]
        lines += [
            f"The job worker kept from the run before (config `worker_keep`) against a new one that imports first, "
            f"same prior edit: {new / kept:.2f}× ({_s(new)} → {_s(kept)}).",
            "",
        ]
    if "d_fit_pytensor_gradient" in p:
        slow = p["d_fit_pytensor_gradient"]["refit_s"]
        lines += [
            f"Track A's hand-written gradient (`models/published_kernel.py`) against PyTensor's compiled graph, "
            f"same refits: {slow / d_warm['refit_s']:.1f}× faster ({_s(slow)} → {_s(d_warm['refit_s'])}).",
            "",
        ]
    return lines


def settings_section(rows: list[dict]) -> list[str]:
    """Gate pass rate and sampling time per sampler setting (bench/settings_bench.py): the evidence for config."""
    by = {}
    for r in rows:
        by.setdefault((r["draws"], r["tune"], r["target_accept"]), []).append(r)
    lines = ["## Sampler settings against the gate (bench/settings_bench.py)", "",
             _row("draws", "tune", "target_accept", "fits", "failed the gate", "median sampling s", "what failed"),
             _row(*["---"] * 7)]  # fmt: skip
    for (draws, tune, ta), rs in sorted(by.items(), reverse=True):
        failed = [r for r in rs if not r["passed"]]
        secs = sorted(r["sample_s"] for r in rs)[len(rs) // 2]
        what = sorted({f.split(" for ")[0].split(" ")[0] if "divergent" not in f else "divergences"
                       for r in failed for f in r["failures"].split("; ")})  # fmt: skip
        lines.append(_row(draws, tune, ta, len(rs), len(failed), _s(secs), ", ".join(what) or "—"))
    return [*lines, ""]


def brms_section(p: dict | None, b: dict, s: dict | None) -> list[str]:
    ta, tb = b["track_a"]["timings"], b["track_b"]["timings"]
    lines = ["## Side by side with brms (same machine; brms and sampler runs from one session)", ""]
    lines += [_row("model / step", "brms", "this pipeline (nutpie)", "brms ÷ ours"), _row("---", "---", "---", "---")]
    if p:
        d = p["d_fit_warm_cache"]
        ours = [
            ("Track A: compile + first fit (warm cache)", ta["compile_fit_s"], d["compile_plus_first_fit_s"]),
            ("Track A: compile + first fit (empty cache)", ta["compile_fit_s"],
             p["d_fit_cold_cache"]["compile_plus_first_fit_s"]),
            ("Track A: refit after a prior edit", ta["prior_edit_s"], d["refit_s"]),
            ("Track A: data-only refit (brms) vs refit (ours)", ta["data_refit_s"], d["refit_s"]),
        ]  # fmt: skip
        for label, theirs, mine in ours:
            lines.append(_row(label, _s(theirs), _s(mine), f"{theirs / mine:.1f}×"))
    if not p and s and "published|nutpie" in s:  # no pipeline bench in this run: whole-process fits instead
        cell = s["published|nutpie"]
        for temp in ("warm", "cold"):
            mine = cell[temp]["process_s"]
            lines.append(_row(f"Track A: compile + fit, whole process, {temp} cache", _s(ta["compile_fit_s"]),
                              _s(mine), f"{ta['compile_fit_s'] / mine:.1f}×"))  # fmt: skip
        lines.append(_row("Track A: refit after a prior edit (brms recompiles)", _s(ta["prior_edit_s"]), "—", "—"))
    if s and "ptsd:outcome:CAPS-5|nutpie" in s:
        cell = s["ptsd:outcome:CAPS-5|nutpie"]
        for temp in ("warm", "cold"):
            mine = cell[temp]["process_s"]
            lines.append(_row(f"Track B outcome (PTSD): compile + fit, whole process, {temp} cache",
                              _s(tb["compile_fit_s"]), _s(mine), f"{tb['compile_fit_s'] / mine:.1f}×"))  # fmt: skip
    lines += ["", "brms re-compiles the Stan program on a prior edit (priors are compiled in); here priors are",
              "`pm.Data`, so a prior edit is a refit of the already compiled model.", ""]  # fmt: skip
    return lines


def sampler_section(s: dict) -> list[str]:
    lines = ["## Sampler choice: nutpie vs PyMC's NUTS (fresh process per cell, 2 cores)", ""]
    lines += [_row("model", "sampler", "cache", "process", "min bulk ESS", "s to 400 ESS", "ESS/s sampling")]
    lines.append(_row(*["---"] * 7))
    for cell in s.values():
        for temp in ("cold", "warm"):
            r = cell[temp]
            lines.append(_row(cell["model"], cell["backend"], temp, _s(r["process_s"]), f"{r['min_ess_bulk']:.0f}",
                              _s(r["s_to_400_ess"]), f"{r['ess_per_s_sampling']:.0f}"))  # fmt: skip
    return lines + [""]


def gradient_section(g: list[dict]) -> list[str]:
    lines = ["## Hand-written gradients against PyTensor's compiled graph (same process, same seeds, 2 cores)", ""]
    lines += [_row("model", "likelihood / residual", "hand-written", "PyTensor", "ratio", "same steps",
                   "largest difference of posterior means")]  # fmt: skip
    lines.append(_row(*["---"] * 7))
    for r in g:
        same = "yes" if r["steps"]["handwritten"] == r["steps"]["pytensor"] else "no"
        lines.append(_row(r["model"], r["residual"], _s(r["median_s"]["handwritten"]), _s(r["median_s"]["pytensor"]),
                          f"{r['ratio']:.1f}×", same, f"{r['max_mean_difference']:.2g}"))  # fmt: skip
    return lines + ["", "Sampling only (median of the alternating repetitions); compile excluded.", ""]


def main() -> str:
    p, s, b = _load("pipeline.json"), _load("samplers.json"), _load("brms.json")
    g = _load("gradients.json")
    machine = next((d["machine"] for d in (p, b, s) if d and "machine" in d), {})
    lines = ["# Benchmark results", "", f"Machine: {json.dumps(machine)}", ""]
    if b and not p:
        lines += ["**Measured while other jobs shared the 2 cores** (brms load average "
                  f"{b['machine'].get('load_average_at_start')}); the pipeline part (a-e) was not run in this",
                  "bench run. Treat single cells as ±30%; within-row ratios share the load.", ""]  # fmt: skip
    if p:
        at = f", commit `{p['commit'][:7]}`" if "commit" in p else ""
        lines += [f"Run: {p['when']}{at}, `snakemake --cores {p['cores']}`.", ""] + pipeline_section(p)
    if b:
        lines += brms_section(p, b, s)
    if g:
        lines += gradient_section(g)
    if s:
        lines += sampler_section(s)
    settings = RESULTS / "settings.jsonl"
    if settings.exists():
        lines += settings_section([json.loads(line) for line in settings.read_text().splitlines() if line.strip()])
    text = "\n".join(lines)
    (HERE / "results.md").write_text(text)
    return text


if __name__ == "__main__":
    print(main())
