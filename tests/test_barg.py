"""The BARG checklist: complete evidence satisfies every item, a removed item shows as missing, typos fail."""

import pytest

from reanalysis.barg import KEYS, checklist, links_html

COMPLETE = {
    "model": [("Model", "#model"), ("models/published.py", "models/published.py")],
    "priors": [("Prior sets", "#priors")],
    "prior_predictive": [("Prior predictive", "#prior-predictive")],
    "computation": [("Convergence", "#convergence"), ("Environment", "#environment")],
    "posterior_predictive": [("Posterior predictive check", "#ppc")],
    "posterior": [("Posterior summaries", "#results")],
    "decisions": [("Threshold probabilities", "#thresholds")],
    "sensitivity": [("Prior sensitivity", "#sensitivity")],
    "reproducibility": [("Snakefile", "Snakefile"), ("Seed", "#provenance")],
}


def test_complete_evidence_satisfies_every_item():
    table = checklist(COMPLETE)
    assert table["key"].tolist() == KEYS and len(KEYS) == 9
    assert (table["status"] == "satisfied").all()
    assert table.set_index("key").loc["model", "links"] == COMPLETE["model"]


@pytest.mark.parametrize("removed", KEYS)
def test_removing_one_item_marks_exactly_that_item_missing(removed):
    partial = {k: v for k, v in COMPLETE.items() if k != removed}
    table = checklist(partial).set_index("key")
    assert table.loc[removed, "status"] == "missing" and table.loc[removed, "links"] == []
    assert (table.drop(index=removed)["status"] == "satisfied").all()
    assert checklist({**partial, removed: []}).set_index("key").loc[removed, "status"] == "missing"


def test_unknown_keys_and_empty_links_are_errors():
    with pytest.raises(ValueError, match="unknown BARG item"):
        checklist({**COMPLETE, "prior": [("Priors", "#priors")]})
    with pytest.raises(ValueError, match="non-empty"):
        checklist({"model": [("", "#model")]})


def test_links_are_escaped_html():
    out = links_html([("R-hat & ESS", "#conv"), ("x", 'a"b')])
    assert out == '<a href="#conv">R-hat &amp; ESS</a> · <a href="a&quot;b">x</a>'
