"""Tests for reanalysis.workflow_report: the automatic readings of the workflow-check tables and the BARG links."""

import pandas as pd

from reanalysis import workflow_report as wr


def test_loo_reading_names_high_k_observations_per_prior_set():
    summary = pd.DataFrame({"prior_set": ["a", "b"]})
    none = pd.DataFrame({"prior_set": ["a", "b"], "label": ["Z01", "Z01"], "high_k": [False, False]})
    assert "reliable" in wr.loo_reading(summary, none)
    some = pd.DataFrame({"prior_set": ["a", "a", "b"], "label": ["Z01", "L05", "Z01"], "high_k": [True, False, True]})
    text = wr.loo_reading(summary, some)
    assert "a: Z01" in text and "b: Z01" in text and "L05" not in text


def test_compare_reading_separates_only_beyond_two_standard_errors():
    table = pd.DataFrame({"model": ["outcome", "student_t"], "elpd_diff": [0.0, 1.2], "dse": [0.0, 1.0]})
    assert "does not separate" in wr.compare_reading(table)
    table.loc[1, ["elpd_diff", "dse"]] = [9.0, 2.0]
    assert "favours outcome" in wr.compare_reading(table)
    assert wr.compare_reading(table.iloc[:1]) == ""


def test_sbc_reading_counts_verdicts_and_points_to_the_full_run():
    summary = pd.DataFrame({
        "parameter": ["rho", "sigma", "tau"], "n_replicates": [20] * 3,
        "verdict": ["calibrated", "miscalibrated", "calibrated"],
    })  # fmt: skip
    text = wr.sbc_reading(summary, "quick")
    assert text.startswith("2 of 3 parameters calibrated over 20 replicates") and "flagged: sigma" in text
    assert "sbc=full" in text and "sbc=full" not in wr.sbc_reading(summary, "full")


def test_headline_movement_is_the_range_over_prior_sets():
    probs = pd.DataFrame({
        "model": "published", "parameter": "rho_pooled", "threshold": ["P(rho < 0)"] * 3,
        "prior_set": ["reference", "sceptical", "enthusiastic"], "probability": [0.99, 0.90, 0.999],
    })  # fmt: skip
    row = wr.headline_movement(probs).iloc[0]
    assert row["moves by"] == 0.099
    assert row["lowest"] == "0.900 (sceptical)" and row["highest"] == "0.999 (enthusiastic)"


def test_barg_links_only_sections_present_in_this_build():
    full = wr.barg_checklist({"model", "priors", "prior-predictive", "diagnostics", "ppc-published", "results",
                              "sensitivity", "loo", "sbc", "pipeline", "provenance", "n-sensitivity"})  # fmt: skip
    assert (full["status"] == "satisfied").all()
    partial = wr.barg_checklist({"model", "results"}).set_index("key")
    assert partial.loc["prior_predictive", "status"] == "missing"
    assert partial.loc["posterior_predictive", "status"] == "missing"
    assert partial.loc["model", "status"] == "satisfied"
    assert ("results/provenance.json", "provenance.json") in partial.loc["reproducibility", "links"]


def test_html_table_headers_break_at_underscores_and_cells_stay_escaped():
    from reanalysis.report import html_table

    df = pd.DataFrame({"share_within_mcid": [0.12345], "label": ["a_b <x>"]})
    html = html_table(df)
    assert "<th>share_<wbr>within_<wbr>mcid</th>" in html
    assert "<th>label</th>" in html
    # cells are neither split nor unescaped; numbers keep three significant digits
    assert "<td>a_b &lt;x&gt;</td>" in html and "<td>0.123</td>" in html
