"""Report context of the Bayesian-workflow section: prior predictive, sensitivity, LOO, SBC, BARG checklist.

Every table is read from a file the report rule declares as input; the short automatic readings are computed
here from those tables, so a reader sees what to look for without parsing numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reanalysis import barg

SBC_VERDICT_CLASS = {"calibrated": "ok", "miscalibrated": "bad", "too few replicates to judge": "warn"}


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _by_model(paths, part: str) -> dict[str, str]:
    """{model: path} for paths like results/checks/{model}/workflow/{part} or results/tables/sbc/{model}.csv."""
    out = {}
    for p in map(Path, paths):
        if p.name == part and p.parent.name == "workflow":
            out[p.parent.parent.name] = str(p)
        elif part == "sbc" and p.parent.name == "sbc" and p.suffix == ".csv":
            out[p.stem] = str(p)
    return out


def loo_reading(summary: pd.DataFrame, pointwise: pd.DataFrame) -> str:
    """Which prior sets have observations with Pareto k > 0.7, naming them; or that none do."""
    flagged = pointwise[pointwise["high_k"].astype(str) == "True"]
    if flagged.empty:
        return "Every observation has Pareto k ≤ 0.7 under every prior set: the PSIS-LOO estimates are reliable."
    parts = [f"{p}: {', '.join(g['label'].astype(str))}" for p, g in flagged.groupby("prior_set", sort=False)]
    return (
        "Observations with Pareto k > 0.7 (their leave-one-out predictions rest on few draws, so elpd is "
        "optimistic for them): " + "; ".join(parts) + "."
    )


def compare_reading(table: pd.DataFrame) -> str:
    """Does LOO separate the main model from its variant? |elpd_diff| < 2 SE (or < 4) does not."""
    if len(table) < 2:
        return ""
    best, other = table.iloc[0], table.iloc[1]
    diff, se = float(other["elpd_diff"]), float(other["dse"])
    verdict = "does not separate the two" if diff < max(4.0, 2 * se) else f"favours {best['model']}"
    return f"{best['model']} ranks first; elpd difference {diff:.2f} (SE {se:.2f}): LOO {verdict}."


def sbc_reading(summary: pd.DataFrame, mode: str) -> str:
    counts = summary["verdict"].value_counts()
    n = len(summary)
    bad = summary.loc[summary["verdict"] == "miscalibrated", "parameter"].tolist()
    reps = int(summary["n_replicates"].iloc[0])
    text = f"{counts.get('calibrated', 0)} of {n} parameters calibrated over {reps} replicates"
    if bad:
        text += f"; flagged: {', '.join(bad)}"
    if mode != "full":
        text += ". This is the quick run; `snakemake --config sbc=full` gives ≥ 200 replicates for the verdict"
    return text + "."


def headline_movement(probs: pd.DataFrame, model: str = "published", parameter: str = "rho_pooled") -> pd.DataFrame:
    """Each headline probability across the prior sets: lowest, highest and how far it moves."""
    sub = probs[(probs["model"] == model) & (probs["parameter"] == parameter)]
    rows = []
    for threshold, g in sub.groupby("threshold", sort=False):
        lo, hi = g.loc[g["probability"].idxmin()], g.loc[g["probability"].idxmax()]
        rows.append({
            "threshold": threshold,
            "lowest": f"{lo['probability']:.3f} ({lo['prior_set']})",
            "highest": f"{hi['probability']:.3f} ({hi['prior_set']})",
            "moves by": round(float(hi["probability"] - lo["probability"]), 3),
        })  # fmt: skip
    return pd.DataFrame(rows)


def model_sections(inputs, labels: dict[str, str], synthetic: dict[str, bool], sbc_mode: str) -> list[dict]:
    """One entry per model with its tables (DataFrames), figure paths and readings."""
    parts = ("sensitivity.csv", "loo.csv", "loo_pointwise.csv", "loo_compare.csv", "prior_predictive.csv")
    files = {part: _by_model(inputs.workflow_tables, part) for part in parts}
    sbc_files = _by_model(inputs.sbc_tables, "sbc")
    figures = {Path(p).parent.name + "/" + Path(p).stem: p for p in inputs.workflow_figures}
    sections = []
    for model in files["loo.csv"]:
        loo_summary, pointwise = _read(files["loo.csv"][model]), _read(files["loo_pointwise.csv"][model])
        compare = _read(files["loo_compare.csv"][model])
        sbc_summary = _read(sbc_files[model]) if model in sbc_files else None
        sections.append({
            "model": model,
            "label": labels.get(model, model),
            "synthetic": synthetic.get(model, False),
            "prior_predictive": _read(files["prior_predictive.csv"][model]),
            "prior_predictive_figure": figures.get(f"{model}/prior_predictive"),
            "sensitivity": _read(files["sensitivity.csv"][model]),
            "sensitivity_figure": figures.get(f"{model}/sensitivity"),
            "loo": loo_summary,
            "loo_reading": loo_reading(loo_summary, pointwise),
            "pareto_figure": figures.get(f"{model}/pareto_k"),
            "compare": compare if len(compare) else None,
            "compare_reading": compare_reading(compare),
            "sbc": sbc_summary,
            "sbc_reading": sbc_reading(sbc_summary, sbc_mode) if sbc_summary is not None else "",
            "sbc_figure": figures.get(f"{model}/sbc"),
            "files": {k: v.get(model) for k, v in files.items()} | {"sbc": sbc_files.get(model)},
        })  # fmt: skip
    return sections


def barg_checklist(present: set[str]) -> pd.DataFrame:
    """BARG items linked to the report sections that exist in this build (anchor ids in ``present``)."""
    candidates = {
        "model": [("The model", "#model"), ("models/published.py", "models/published.py"),
                  ("models/participant.py", "models/participant.py")],
        "priors": [("Prior sets and their sources", "#priors")],
        "prior_predictive": [("Prior predictive checks", "#prior-predictive")],
        "computation": [("Diagnostics and the convergence gate", "#diagnostics"), ("Provenance", "#provenance")],
        "posterior_predictive": [("Posterior predictive check", "#ppc-published"),
                                 ("Track B checks by follow-up and alliance timepoint", "#participants")],
        "posterior": [("Results", "#results")],
        "decisions": [("Threshold probabilities", "#results")],
        "sensitivity": [("Prior sensitivity", "#sensitivity"), ("What the choice of n changes", "#n-sensitivity"),
                        ("Model comparison (LOO)", "#loo"), ("Simulation-based calibration", "#sbc")],
        "reproducibility": [("The pipeline", "#pipeline"), ("Provenance", "#provenance"),
                            ("results/provenance.json", "provenance.json")],
    }  # fmt: skip
    evidence = {
        key: [(label, href) for label, href in links if not href.startswith("#") or href[1:] in present]
        for key, links in candidates.items()
    }
    return barg.checklist(evidence)


SBC_COLUMNS = ["parameter", "n_replicates", "coverage50", "coverage90", "band_exceeded", "max_abs_ecdf_diff", "verdict"]
LOO_COLUMNS = ["prior_set", "elpd_loo", "se", "p_loo", "n_data_points", "n_high_k"]


def context(inputs, config: dict, kinds: dict[str, str], labels: dict[str, str], synthetic: dict[str, bool],
            html_table, inline_png) -> dict:  # fmt: skip
    """The ``wf`` context of workflow_checks.html.j2 (``html_table``/``inline_png`` from reanalysis.report)."""
    models = model_sections(inputs, labels, synthetic, config["sbc"])
    for m in models:
        m["kind"] = kinds.get(m["model"], "published")
        m["prior_predictive_html"] = html_table(m["prior_predictive"])
        m["sensitivity_html"] = html_table(m["sensitivity"])
        m["loo_html"] = html_table(m["loo"][[c for c in LOO_COLUMNS if c in m["loo"]]])
        m["compare_html"] = html_table(m["compare"]) if m["compare"] is not None else ""
        if m["sbc"] is not None:
            m["sbc_html"] = html_table(m["sbc"][SBC_COLUMNS])
        for fig in ("prior_predictive_figure", "sensitivity_figure", "pareto_figure", "sbc_figure"):
            m[f"{fig}_png"] = inline_png(m[fig]) if m[fig] else ""
    probs = pd.read_csv(inputs.threshold_probabilities)
    return {
        "models": models,
        "headline_movement": html_table(headline_movement(probs)),
        "variant_prior": next(iter(config["priors"])),
        "sbc_prior": next(iter(config["priors"])),
        "sbc_n_prior": config["published"]["n_sensitivity_prior"],
        "sbc_mode": config["sbc"],
        "sbc_replicates": config["sbc_settings"]["replicates"][config["sbc"]],
        "sbc_settings": config["sbc_settings"],
    }


def barg_html(checklist: pd.DataFrame) -> str:
    rows = "".join(
        f'<tr class="{"ok" if r.status == "satisfied" else "bad"}"><td>{r.item}</td><td>{r.description}</td>'
        f"<td>{r.status}</td><td>{barg.links_html(r.links)}</td></tr>"
        for r in checklist.itertuples()
    )
    head = "<tr><th>item</th><th>asks for</th><th>status</th><th>where</th></tr>"
    return f'<table class="tbl" id="barg-table">{head}{rows}</table>'
