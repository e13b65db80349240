"""Assemble the self-contained HTML report from files that rules declared as inputs."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import yaml
from scipy import stats

from models.predictive import ppc_reading
from models.priors import to_z_prior
from reanalysis import workflow_report
from reanalysis.dag import DPI


def inline_png(path: str | Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def html_table(df: pd.DataFrame, classes: str = "", digits: int = 3) -> str:
    def fmt(x):
        return f"{x:.{digits}g}" if isinstance(x, float) and np.isfinite(x) else ("" if pd.isna(x) else x)

    html = df.map(fmt).to_html(index=False, classes=f"tbl {classes}", border=0, escape=True, na_rep="")
    # headers are CSV column names (snake_case): breakable at underscores, so wide tables fit the page
    return re.sub(r"<th>([^<]*)</th>", lambda m: "<th>" + m[1].replace("_", "_<wbr>") + "</th>", html)


def prior_table(priors: dict, grouping: list[str]) -> pd.DataFrame:
    rows = []
    for name, p in priors.items():
        z = to_z_prior(p, grouping)
        rows.append({
            "prior set": name,
            "label": p.get("label", ""),
            "95% interval of pooled ρ": f"[{p['rho']['lower95']:.2f}, {p['rho']['upper95']:.2f}]",
            "median ρ": round(z.rho_median, 3),
            "μ = atanh ρ ~ Normal": f"({z.mu_mean:.3f}, {z.mu_sd:.3f})",
            **{f"σ {g.replace('_', ' ')} ~ HalfNormal": s for g, s in z.sigma_scale.items()},
            "why": p.get("description", ""),
        })  # fmt: skip
    return pd.DataFrame(rows)


def compact_published(raw: pd.DataFrame) -> pd.DataFrame:
    """The published rows in a width that fits a page: one cell per idea."""

    def value(r):
        if r["value"]:
            return r["value"]
        return f"[{r['value_low']}, {r['value_high']}]" if r["value_low"] else ""

    return pd.DataFrame({
        "row": raw["row_id"],
        "study": raw["study"],
        "n enrolled / analysed": raw["n_enrolled"] + " / " + raw["n_analysed_reported"].replace("", "–"),
        "alliance (phase: timepoint)": raw["alliance_phase"] + ": " + raw["alliance_timepoint"],
        "outcome @ follow-up": raw["outcome"] + " @ " + raw["outcome_timepoint"],
        "covariates": raw["covariates"],
        "statistic": raw["statistic"],
        "value": raw.apply(value, axis=1),
        "direction": raw["direction"].str.replace("_", " "),
        "p": raw["p_reported"],
    })  # fmt: skip


def compact_audit(audit: pd.DataFrame) -> pd.DataFrame:
    def n_range(r):
        if pd.isna(r["n_consistent_min"]):
            return ""
        hi = "" if pd.isna(r["n_consistent_max"]) else f"{r['n_consistent_max']:.0f}"
        lo = f"{r['n_consistent_min']:.0f}"
        return (lo if hi == lo else f"{lo}–{hi}") if hi else f"≥ {lo}"

    def p_range(r):
        if pd.isna(r["p_recomputed_low"]):
            return ""
        return f"{r['p_recomputed_low']:.2g} – {r['p_recomputed_high']:.2g}"

    return pd.DataFrame({
        "row": audit["row_id"],
        "statistic": audit["statistic"],
        "p printed": audit["p_reported"].fillna(""),
        "n reported (k)": audit["n_reported"].astype(str) + " (" + audit["k"].astype(str) + ")",
        "p recomputed at reported n": audit.apply(p_range, axis=1),
        "n consistent with r and p": audit.apply(n_range, axis=1),
        "n implied": audit["n_implied"],
        "verdict": audit["verdict"],
    })  # fmt: skip


def contrast_table(contrasts: pd.DataFrame, model: str = "published") -> pd.DataFrame:
    """contrast x prior set, each cell 'median [94% HDI]; P(< 0)'."""
    sel = contrasts[contrasts["model"] == model].copy()
    if sel.empty:
        return sel
    sel["cell"] = [
        f"{m:+.2f} [{lo:+.2f}, {hi:+.2f}]; P(<0) = {p:.2f}"
        for m, lo, hi, p in zip(sel["median"], sel["hdi_low"], sel["hdi_high"], sel["p_more_negative"], strict=True)
    ]
    wide = sel.pivot(index="contrast", columns="prior_set", values="cell")
    wide.columns.name = None
    return wide.loc[list(dict.fromkeys(sel["contrast"])), list(dict.fromkeys(sel["prior_set"]))].reset_index()


def ppc_table(ppc: pd.DataFrame, prior: str) -> tuple[pd.DataFrame, list[str]]:
    """The main model's PPC under one prior set, and the ids of rows outside their 95% predictive interval."""
    sel = ppc[(ppc["model"] == "published") & (ppc["prior_set"] == prior)]
    table = pd.DataFrame({
        "row": sel["row_id"], "statistic": sel["statistic"], "reported": sel["observed"],
        "predicted r: median [95%]": [f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in
                                      zip(sel["pred_median"], sel["pred_low"], sel["pred_high"], strict=True)],
        "P(reported event) or P(r ≤ reported)": sel["p_observed_event"].round(3),
        "outside 95%": sel["outside_95"].map({True: "YES", False: ""}),
    })  # fmt: skip
    return table, sel.loc[sel["outside_95"].astype(bool), "row_id"].tolist()


def threshold_pivot(probs: pd.DataFrame, model: str, parameter: str) -> pd.DataFrame:
    """prior set x threshold table of P, each cell 'p (mcse)'."""
    sel = probs[(probs["model"] == model) & (probs["parameter"] == parameter)].copy()
    sel["cell"] = [f"{p:.3f} (±{m:.3f})" for p, m in zip(sel["probability"], sel["mcse"], strict=True)]
    wide = sel.pivot(index="prior_set", columns="threshold", values="cell")
    wide.columns.name = None  # else the pivot's column name shows as an empty header cell
    order = list(dict.fromkeys(sel["prior_set"]))
    return (
        wide.loc[order, list(dict.fromkeys(sel["threshold"]))].reset_index().rename(columns={"prior_set": "prior set"})
    )


def n_sensitivity(summary: pd.DataFrame, prior: str, n_main: str, n_alt: str) -> pd.DataFrame:
    """Pooled and per-group rho under the main and the alternative n, same prior set."""
    rho = summary[summary["parameter"].str.match(r"rho_(?!row|cell)") & (summary["prior_set"] == prior)]
    main = rho[rho["model"] == "published"].set_index("parameter")
    alt = rho[rho["model"] == "published_alt_n"].set_index("parameter")
    if alt.empty:
        return pd.DataFrame()
    out = pd.DataFrame({
        "parameter": main.index,
        f"median, n {n_main}": main["median"].values,
        f"94% HDI, n {n_main}": [f"[{a:.2f}, {b:.2f}]" for a, b in zip(main["hdi_low"], main["hdi_high"], strict=True)],
        f"median, n {n_alt}": alt.loc[main.index, "median"].values,
        f"94% HDI, n {n_alt}": [f"[{a:.2f}, {b:.2f}]" for a, b in zip(alt.loc[main.index, "hdi_low"],
                                                                       alt.loc[main.index, "hdi_high"], strict=True)],
        "shift of median": alt.loc[main.index, "median"].values - main["median"].values,
    })  # fmt: skip
    return out


def _ppc_context(ppc: pd.DataFrame, prior: str) -> dict:
    table, outside = ppc_table(ppc, prior)
    return {"prior": prior, "table": html_table(table), "outside": outside, "n": len(table)}


def _by_name(paths, part: str) -> str:
    return next(str(p) for p in paths if part in str(p))


def _ols_ci(f: pd.Series) -> str:
    if not np.isfinite(f["slope_points"]):
        return "too few complete cases"
    half = stats.t.ppf(0.975, f["df"]) * f["se"]
    return f"{f['slope_points']:.1f} [{f['slope_points'] - half:.1f}, {f['slope_points'] + half:.1f}]"


def slope_comparison(freq: pd.DataFrame, summary: pd.DataFrame, model: str, prior: str) -> pd.DataFrame:
    """Published-style per-timepoint OLS beside the joint model's slope, per alliance timepoint x follow-up."""
    bayes = summary[(summary["model"] == model) & (summary["prior_set"] == prior)].set_index("parameter")
    rows = []
    for _, f in freq.iterrows():
        b = bayes.loc[f"slope_points[{f['alliance_time']},{f['followup']}]"]
        rows.append({
            "alliance → follow-up": f"{f['alliance_time']} → {f['followup']}",
            "n (complete)": int(f["n"]),
            "r": f"{f['r']:.2f}",
            "OLS slope / SD [95% CI]": _ols_ci(f),
            "partial r²": f"{f['partial_r2']:.2f}",
            "p": f"{f['p']:.3g}",
            "p (Holm)": f"{f['p_holm']:.3g}",
            "Bayes slope / SD [94% HDI]": f"{b['median']:.1f} [{b['hdi_low']:.1f}, {b['hdi_high']:.1f}]",
        })  # fmt: skip
    return pd.DataFrame(rows)


def participant_context(inputs, config: dict, summary: pd.DataFrame, probs: pd.DataFrame) -> list[dict]:
    reference = next(iter(config["priors"]))
    out = []
    for name, spec in config["cohorts"].items():
        synthetic = spec["file"] == "synthetic"
        paths = {
            "missingness": _by_name(inputs.missingness, f"/{name}/"),
            "frequentist": _by_name(inputs.frequentist, f"/{name}.csv"),
            "trajectory": _by_name(inputs.participant_figures, f"/{name}_alliance/trajectory.png"),
            "alliance_ppc": _by_name(inputs.participant_figures, f"/{name}_alliance/ppc.png"),
            "alliance_ppc_table": _by_name(inputs.participant_ppc, f"/{name}_alliance.csv"),
        }
        missingness = pd.read_csv(paths["missingness"])
        freq = pd.read_csv(paths["frequentist"])
        sections = []
        for outcome, o in spec["outcomes"].items():
            model = f"{name}_outcome_{outcome}"
            mean_probs = probs[(probs["model"] == model) & (probs["parameter"] == "slope_mean_points")]
            figures = {kind: _by_name(inputs.participant_figures, f"/{model}/{kind}.png") for kind in ("slopes", "ppc")}
            figures["ppc_table"] = _by_name(inputs.participant_ppc, f"/{model}.csv")
            sections.append({
                "outcome": outcome, "model": model, "mcid": o["mcid"], "mcid_source": o["mcid_source"],
                "reference_prior": reference, "paths": figures,
                "slopes": inline_png(figures["slopes"]),
                "ppc": inline_png(figures["ppc"]),
                "ppc_reading": ppc_reading(pd.read_csv(figures["ppc_table"]), "follow-up"),
                "thresholds": html_table(threshold_pivot(mean_probs, model, "slope_mean_points")),
                "comparison": html_table(slope_comparison(freq[freq["outcome"] == outcome], summary, model, reference)),
            })  # fmt: skip
        seed_text = f"seed {config['seed']}"
        out.append({
            "name": name, "label": spec["label"], "synthetic": synthetic,
            "source": f"Calibrated synthetic cohort ({seed_text})" if synthetic else f"Data: {spec['file']}",
            "n_participants": int(missingness["n_expected"].max()),
            "alliance_timepoints": spec["alliance_timepoints"], "outcomes": list(spec["outcomes"]),
            "followups": spec["followups"], "baseline": spec["baseline_timepoint"],
            "n_log": len(pd.read_csv(_by_name(inputs.participant_cleaning, f"/{name}/"))),
            "missingness": html_table(missingness),
            "trajectory": inline_png(paths["trajectory"]), "paths": paths,
            "alliance_ppc": inline_png(paths["alliance_ppc"]),
            "alliance_ppc_reading": ppc_reading(pd.read_csv(paths["alliance_ppc_table"]), "alliance timepoint"),
            "outcome_sections": sections,
        })  # fmt: skip
    return out


def _show(value) -> str:
    """A config value in one line: YAML flow style for lists and mappings, as the user would write it."""
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**6).strip()
    return str(value) if isinstance(value, str) else json.dumps(value)


def provenance_context(prov: dict) -> dict:
    """The provenance panel: provenance.json as the template shows it."""
    columns = ["rule", "job", "seconds", "cpu_seconds", "max_rss_mb", "measured_by"]
    jobs = pd.DataFrame(prov["jobs"], columns=columns).fillna({"measured_by": "benchmark"})
    jobs = jobs.rename(columns={"seconds": "wall s", "cpu_seconds": "CPU s", "max_rss_mb": "peak RSS (MB)",
                                "measured_by": "CPU and RSS from"})  # fmt: skip
    diff = pd.DataFrame(
        [{"key": r["key"], "default": _show(r["default"]), "this run": _show(r["run"])} for r in prov["config_diff"]],
        columns=["key", "default", "this run"],
    )
    return {
        **{k: prov[k] for k in ("built_at", "git", "python", "platform", "inputs", "seeds", "total_job_seconds")},
        "untimed": prov["untimed_jobs"],
        "sampler": prov["config"]["sampler"],
        "packages": prov["packages"],
        "n_all_packages": len(prov["all_packages"]),
        "all_packages": ", ".join(f"{k}=={v}" for k, v in prov["all_packages"].items()),
        "default_source": prov["default_config_source"],
        "config_diff": html_table(diff, classes="diff") if len(diff) else "",
        "jobs": html_table(jobs, digits=3),
        "config": yaml.safe_dump(prov["config"], sort_keys=False, allow_unicode=True),
    }


def _png_size(path: str | Path) -> tuple[int, int]:
    """Width and height from the PNG header (IHDR), without an image library."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def dag_context(graph: dict, png_path: str | Path) -> dict:
    rules = pd.DataFrame([
        {"rule": name, "jobs": r["jobs"], "script": r["script"] or "(target rule)", "rules file": r["rulefile"],
         "outputs": ", ".join(r["outputs"]),
         "inputs from": ", ".join(sorted(u for u, v in graph["edges"] if v == name))}
        for name, r in sorted(graph["rules"].items(), key=lambda kv: (graph["layers"][kv[0]], kv[0]))
    ])  # fmt: skip
    width_px = _png_size(png_path)[0]
    return {
        "png": inline_png(png_path),
        "css_width": round(width_px * 96 / DPI),  # true size: CSS pixels are 1/96 inch
        "rules": html_table(rules),
        "n_rules": len(rules),
        "n_jobs": int(rules["jobs"].sum()),
    }


class UndeclaredInputError(RuntimeError):
    """The report read a project file that is not among its rule's declared inputs."""


_guard: dict = {"allowed": None, "roots": (), "environment": ()}


def _under(path: str, roots) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


def _reads_hook(event: str, args: tuple) -> None:
    if event != "open" or _guard["allowed"] is None:
        return
    path, mode, flags = (tuple(args) + (None, None))[:3]
    if isinstance(path, int) or not isinstance(path, str | bytes | os.PathLike):
        return  # an already open file descriptor
    writing = set(mode) & set("wax+") if isinstance(mode, str) else (flags or 0) & (os.O_WRONLY | os.O_RDWR)
    if writing:
        return  # writing is not reading an input
    full = os.path.realpath(os.fsdecode(path))
    if full in _guard["allowed"] or _under(full, _guard["environment"]) or full.endswith((".py", ".pyc")):
        return  # declared, a file of the Python environment, or code imported on first use
    if _under(full, _guard["roots"]):
        raise UndeclaredInputError(
            f"rule report read {full}, which is not one of its declared inputs: add it to the input: of rule report "
            "(workflow/rules/report.smk) so Snakemake reruns the report when it changes, or pass the value as params"
        )


@contextlib.contextmanager
def declared_reads_only(declared, roots):
    """Inside, opening a file under one of ``roots`` (project and working directory) for reading raises
    UndeclaredInputError unless it is in ``declared``; the Python environment's own files are always allowed."""
    if not getattr(_reads_hook, "installed", False):
        sys.addaudithook(_reads_hook)  # audit hooks cannot be removed: it stays, switched off outside this block
        _reads_hook.installed = True
    _guard["environment"] = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    _guard["roots"] = tuple(os.path.realpath(r) for r in roots)
    _guard["allowed"] = {os.path.realpath(p) for p in declared}
    try:
        yield
    finally:
        _guard["allowed"] = None


def build_context(inputs, config: dict) -> dict:
    """Everything the template shows, read from the declared input files (the config comes as params)."""
    grouping = config["published"]["grouping"]
    raw = pd.read_csv(inputs.raw[0], dtype=str, keep_default_na=False)
    audit = pd.read_csv(inputs.audit)
    summary = pd.read_csv(inputs.posterior_summary)
    probs = pd.read_csv(inputs.threshold_probabilities)
    diag = pd.read_csv(inputs.diagnostics)
    n_main = config["published"]["n_source"]
    n_alt = {"reported": "implied", "implied": "reported"}[n_main]
    obs_path = [p for p in inputs.observations if f".{n_main}." in Path(p).name][0]
    obs = pd.read_csv(obs_path)
    headline = summary[(summary["model"] == "published") & (summary["parameter"] == "rho_pooled")]
    group_rho = summary[(summary["model"] == "published") & summary["parameter"].str.match(r"rho_(?!row|cell|pooled)")]
    failed = diag[~diag["passed"].astype(bool)]
    return {
        "title": "Therapeutic alliance and outcome in psychedelic-assisted therapy: a Bayesian reanalysis",
        "built": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "gate_ok": failed.empty,
        "failed_fits": failed.to_dict("records"),
        "on_fail": config["gate"]["on_fail"],
        "gate": config["gate"],
        "studies": sorted(raw["study"].unique()),
        "n_rows": len(raw),
        "published": html_table(compact_published(raw)),
        "cleaning_log": html_table(pd.read_csv(inputs.cleaning_log)),
        "dropped": pd.read_csv(inputs.dropped[0]),
        "audit": html_table(compact_audit(audit)),
        "n_inconsistent": int((audit["consistent_at_reported_n"] == False).sum()),  # noqa: E712
        "n_main": n_main,
        "n_alt": n_alt,
        "n_sens_prior": config["published"]["n_sensitivity_prior"],
        "n_sensitivity": html_table(n_sensitivity(summary, config["published"]["n_sensitivity_prior"], n_main, n_alt)),
        "observations": html_table(obs[["row_id", "statistic", "kind", "n", "k", "n_eff", "reading"]]),
        "published_cfg": config["published"],
        "grouping": grouping,
        "priors": html_table(prior_table(config["priors"], grouping)),
        "benchmarks": html_table(
            pd.read_csv(inputs.raw[1])[["source", "quantity", "value", "ci_low", "ci_high", "k_studies"]]
        ),
        "headline": headline.to_dict("records"),
        "group_summary": html_table(
            group_rho[["prior_set", "parameter", "median", "hdi_low", "hdi_high", "r_hat", "ess_bulk"]]
        ),  # fmt: skip
        "threshold_pooled": html_table(threshold_pivot(probs, "published", "rho_pooled")),
        "threshold_groups": [
            (p, html_table(threshold_pivot(probs, "published", p)))
            for p in probs.loc[
                (probs["model"] == "published") & (probs["parameter"] != "rho_pooled"), "parameter"
            ].unique()
            if p.startswith("rho_alliance_phase")
        ],
        "thresholds": config["thresholds"],
        "contrasts": html_table(contrast_table(pd.read_csv(inputs.contrasts))),
        "ppc": _ppc_context(pd.read_csv(inputs.ppc), next(iter(config["priors"]))),
        "diagnostics": diag,
        "forest": inline_png(inputs.forest),
        "cohorts": participant_context(inputs, config, summary, probs),
        "participant_residual": config["participant_residual"],
        "densities": inline_png(inputs.densities),
        "provenance": provenance_context(json.loads(Path(inputs.provenance).read_text(encoding="utf-8"))),
        "wf": workflow_report.context(inputs, config, *model_descriptions(config), html_table, inline_png),
        "dag": dag_context(json.loads(Path(inputs.dag_graph).read_text(encoding="utf-8")), inputs.dag),
        "paths": {
            **{k: str(v) for k, v in inputs.items() if isinstance(v, str)},  # the named single-file inputs
            "raw_published": str(inputs.raw[0]),
            "raw_benchmarks": str(inputs.raw[1]),
            "observations_main": str(obs_path),
        },
    }


def model_descriptions(config: dict) -> tuple[dict, dict, dict]:
    """kind, label and synthetic flag of every model id the pipeline fits (ids as in workflow/rules/common.smk)."""
    kinds = {"published": "published", "published_alt_n": "published"}
    other_n = {"reported": "implied", "implied": "reported"}[config["published"]["n_source"]]
    labels = {"published": "Track A: published statistics",
              "published_alt_n": f"Track A with the {other_n} n (n-sensitivity fit)"}  # fmt: skip
    synthetic = {"published": False, "published_alt_n": False}
    for cohort, spec in config["cohorts"].items():
        is_synthetic = spec["file"] == "synthetic"
        for outcome in spec["outcomes"]:
            m = f"{cohort}_outcome_{outcome}"
            kinds[m], labels[m], synthetic[m] = "outcome", f"{spec['label']}: {outcome} outcome model", is_synthetic
        m = f"{cohort}_alliance"
        kinds[m], labels[m], synthetic[m] = "alliance", f"{spec['label']}: alliance trajectory", is_synthetic
    return kinds, labels, synthetic


def render_with_checklist(template_path: str | Path, context: dict) -> str:
    """Render twice: the BARG checklist links only to section ids that the first rendering actually contains."""
    first = render(template_path, {**context, "wf": {**context["wf"], "barg": ""}})
    present = set(re.findall(r'id="([^"]+)"', first))
    barg = workflow_report.barg_html(workflow_report.barg_checklist(present))
    return render(template_path, {**context, "wf": {**context["wf"], "barg": barg}})


def render(template_path: str | Path, context: dict) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(template_path).parent)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,  # a missing value is an error, not an empty cell
    )
    return env.get_template(Path(template_path).name).render(**context)
