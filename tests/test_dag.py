"""The DAG picture without Graphviz: parsing Snakemake's dot output, grouping jobs by rule, the layered layout and
the drawing, on small hand-written graphs."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from reanalysis.dag import (
    RuleGraph,
    RuleInfo,
    deleted_while_listed,
    draw,
    group_by_rule,
    layout,
    longest_path_layers,
    node_lines,
    parse_dot,
    parse_summary,
    rule_table,
    structural_config,
    wrap_path,
)

# What `snakemake --dag` prints (Snakemake 9), trimmed: two jobs of `fit`, a diamond, a target rule.
DOT = r"""Building DAG of jobs...
digraph snakemake_dag {
    graph[bgcolor=white, margin=0];
    node[shape=box, style=rounded, fontname=sans,                 fontsize=10, penwidth=2];
    edge[penwidth=2, color=grey];
	0[label = "all", color = "0.00 0.6 0.85", style="rounded"];
	1[label = "report", color = "0.53 0.6 0.85", style="rounded"];
	2[label = "validate", color = "0.62 0.6 0.85", style="rounded,dashed"];
	3[label = "fit\nmodel: published\nprior: reference", color = "0.13 0.6 0.85", style="rounded"];
	4[label = "fit\nmodel: published\nprior: sceptical", color = "0.13 0.6 0.85", style="rounded"];
	5[label = "summarise", color = "0.58 0.6 0.85", style="rounded"];
	1 -> 0
	5 -> 1
	2 -> 1
	2 -> 3
	2 -> 4
	3 -> 5
	4 -> 5
}
"""


def test_parse_dot_reads_rule_names_and_edges():
    nodes, edges = parse_dot(DOT)
    assert nodes == {"0": "all", "1": "report", "2": "validate", "3": "fit", "4": "fit", "5": "summarise"}
    assert ("3", "5") in edges and ("1", "0") in edges and len(edges) == 7


def test_parse_dot_rejects_output_without_a_graph():
    with pytest.raises(ValueError, match="no 'digraph'"):
        parse_dot("MissingInputException: ...")
    with pytest.raises(ValueError, match="without jobs"):
        parse_dot("digraph snakemake_dag {\n}")
    with pytest.raises(ValueError, match=r"node ids without a label: \['7'\]"):
        parse_dot('digraph d {\n 0[label = "a"];\n 7 -> 0\n}')


def test_group_by_rule_counts_jobs_and_merges_edges():
    graph = group_by_rule(*parse_dot(DOT))
    assert graph.jobs == {"all": 1, "fit": 2, "report": 1, "summarise": 1, "validate": 1}
    # two fit -> summarise job edges become one rule edge
    assert graph.edges == [
        ("fit", "summarise"), ("report", "all"), ("summarise", "report"), ("validate", "fit"), ("validate", "report"),
    ]  # fmt: skip


# What `snakemake --summary` prints (Snakemake 9), trimmed
SUMMARY = """output_file\tdate\trule\tlog-file(s)\tstatus\tplan
results/report.html\tSun Nov 22 06:15:51 2026\treport\tlogs/report/report.log\tok\tupdate pending
results/fits/published/sceptical.nc\t-\tfit\tlogs/fits/published/sceptical.log\tmissing\tupdate pending
results/fits/published/reference.nc\tSun Nov 22 06:11:31 2026\tfit\tlogs/fits/published/reference.log\tok\tno update
results/data/clean.csv\tSun Nov 22 05:59:53 2026\tvalidate\tlogs/v.log\tok\tno update
"""


def test_parse_summary_lists_each_rules_files():
    assert parse_summary("Building DAG of jobs...\n" + SUMMARY) == {
        "fit": ["results/fits/published/reference.nc", "results/fits/published/sceptical.nc"],
        "report": ["results/report.html"],
        "validate": ["results/data/clean.csv"],
    }
    with pytest.raises(ValueError, match="no table headed output_file"):
        parse_summary("MissingInputException in rule fit")
    graph = group_by_rule(*parse_dot(DOT), parse_summary(SUMMARY))
    assert graph.files["fit"] == ["results/fits/published/reference.nc", "results/fits/published/sceptical.nc"]


def test_longest_path_layers():
    graph = group_by_rule(*parse_dot(DOT))
    # report is reachable in 1 step (from validate) and in 3 (via fit, summarise): the longest path decides
    assert longest_path_layers(graph) == {"validate": 0, "fit": 1, "summarise": 2, "report": 3, "all": 4}


def test_cycle_is_an_error():
    with pytest.raises(ValueError, match=r"cycle through \['a', 'b'\]"):
        longest_path_layers(RuleGraph({"a": 1, "b": 1, "c": 1}, [("a", "b"), ("b", "a"), ("c", "a")]))


def _crossings(lay) -> int:
    """Pairs of edge segments between the same two layers whose ends are in opposite order."""
    pos = {}
    for route in lay.routes.values():
        for (xa, la), (xb, _) in zip(route, route[1:], strict=False):
            pos.setdefault(la, []).append((xa, xb))
    return sum(
        (a0 - b0) * (a1 - b1) < 0 for segs in pos.values() for (a0, a1), (b0, b1) in itertools.combinations(segs, 2)
    )


def test_layout_layers_order_and_long_edges():
    # two independent chains drawn crosswise by name order: a1 -> b2 and a2 -> b1; plus a long edge a1 -> c
    graph = RuleGraph(
        {"a1": 1, "a2": 1, "b1": 1, "b2": 1, "c": 1, "d": 1},
        [("a1", "b2"), ("a2", "b1"), ("b2", "d"), ("d", "c"), ("a1", "c")],
    )
    lay = layout(graph)
    assert lay.y == {"a1": 0, "a2": 0, "b1": 1, "b2": 1, "d": 2, "c": 3}
    assert [sorted(layer) for layer in lay.layers] == [["a1", "a2"], ["b1", "b2"], ["d"], ["c"]]
    assert _crossings(lay) == 0  # the barycentre sweeps uncross the two chains
    route = lay.routes[("a1", "c")]
    assert [layer for _, layer in route] == [0, 1, 2, 3]  # through a dummy node in every layer it crosses
    for layer in (1, 2):  # ... which keeps clear of the boxes in those layers
        x = route[layer][0]
        assert all(abs(x - lay.x[n]) >= 0.5 for n in lay.layers[layer]), (layer, x, lay.x)
    # boxes of one layer never overlap (width 1 each)
    for nodes in lay.layers:
        xs = sorted(lay.x[n] for n in nodes)
        assert all(b - a >= 1 - 1e-9 for a, b in zip(xs, xs[1:], strict=False))


def test_a_rule_without_inputs_sits_just_above_its_consumer():
    graph = RuleGraph({"a": 1, "b": 1, "c": 1, "side": 1}, [("a", "b"), ("b", "c"), ("side", "c")])
    assert longest_path_layers(graph)["side"] == 0
    assert layout(graph).y["side"] == 1  # not at the top, where its edge would run the height of the picture


def test_layout_is_deterministic():
    graph = group_by_rule(*parse_dot(DOT))
    first, second = layout(graph), layout(RuleGraph(dict(reversed(graph.jobs.items())), graph.edges[::-1]))
    assert first.x == second.x and first.y == second.y


def test_wrap_path_and_node_lines():
    assert wrap_path("results/data/published/observations.{n_source}.csv", 30) == [
        "results/data/published/",
        "  observations.{n_source}.csv",
    ]
    assert wrap_path("short.csv") == ["short.csv"]
    info = RuleInfo("summarise", "summarise.py", "report.smk", tuple(f"results/tables/t{i}.csv" for i in range(6)))
    lines = node_lines("summarise", 1, info)
    assert lines[:2] == [("summarise", "name"), ("summarise.py · 1 job", "script")]
    assert lines[-1] == ("+ 3 more outputs", "output") and ("results/tables/t0.csv", "output") in lines
    assert node_lines("all", 1, None)[1] == ("no script (target rule) · 1 job", "script")
    assert node_lines("fit", 5, RuleInfo("fit", "fit.py"), note="reads x")[1:3] == [
        ("fit.py · 5 jobs", "script"),
        ("reads x", "script"),
    ]


def test_draw_writes_a_png_that_depends_only_on_the_graph(tmp_path):
    graph = group_by_rule(*parse_dot(DOT))
    info = {"fit": RuleInfo("fit", "fit.py", "model.smk", ("results/fits/{model}/{prior}.nc",))}
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    draw(graph, info, a, title="test")
    draw(graph, info, b, title="test")
    data = a.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert data == b.read_bytes()  # no timestamp or version in the file
    assert b"matplotlib" not in data
    draw(graph, info, b, title="test", collapse={"report": "reads everything"})
    assert b.read_bytes() != data


def test_to_dict_keeps_every_edge_and_rule_info():
    graph = group_by_rule(*parse_dot(DOT))
    d = graph.to_dict({"fit": RuleInfo("fit", "fit.py", "model.smk", ("results/fits/{model}/{prior}.nc",))})
    assert d["rules"]["fit"] == {
        "jobs": 2, "script": "fit.py", "rulefile": "model.smk", "outputs": ["results/fits/{model}/{prior}.nc"],
        "files": [],
    }  # fmt: skip
    assert d["rules"]["all"]["script"] == "" and ["validate", "report"] in d["edges"]
    assert d["layers"]["all"] == 4


def test_rule_table_from_snakemake_rules():
    rule = SimpleNamespace(
        name="fit",
        script="../scripts/fit.py",
        snakefile="/repo/workflow/rules/model.smk",
        output=["results/fits/{model,published|alt}/{prior}.nc"],
    )
    target = SimpleNamespace(name="all", script=None, snakefile="/repo/Snakefile", output=[])
    assert rule_table([rule, target]) == {
        "fit": {"script": "fit.py", "rulefile": "model.smk", "outputs": ["results/fits/{model}/{prior}.nc"]},
        "all": {"script": "", "rulefile": "Snakefile", "outputs": []},
    }


def test_structural_config_ignores_prior_numbers_and_worker_not_prior_names():
    from conftest import CONFIG

    edited = {**CONFIG, "priors": {**CONFIG["priors"], "sceptical": {**CONFIG["priors"]["sceptical"], "rho": {}}}}
    assert structural_config(edited) == structural_config(CONFIG)
    assert list(structural_config(CONFIG)["priors"]) == list(CONFIG["priors"])
    renamed = {**CONFIG, "priors": {("doubtful" if k == "sceptical" else k): v for k, v in CONFIG["priors"].items()}}
    assert structural_config(renamed) != structural_config(CONFIG)
    assert structural_config({**CONFIG, "worker": not CONFIG["worker"]}) == structural_config(CONFIG)
    assert structural_config({**CONFIG, "sbc": "full"}) != structural_config(CONFIG)  # everything else counts
    assert CONFIG["priors"]["sceptical"]["rho"], "the caller's config is not modified"


def test_only_a_file_deleted_under_the_inner_snakemake_is_asked_again():
    # both ways Snakemake 9 words it: a listed file gone, and its modification time gone (seen in CI, 2026-12-03)
    assert deleted_while_listed("Building DAG of jobs...\nMissingInputException: File or directory not found")
    assert deleted_while_listed(
        "WorkflowError:\nUnable to obtain modification time of file results/sbc/published_alt_n/chunk0.csv although "
        "it existed before. It could be that a concurrent process has deleted it while Snakemake was running."
    )
    assert not deleted_while_listed("SyntaxError in file Snakefile, line 3")
    assert not deleted_while_listed("WorkflowError: Config file config.yaml not found")
