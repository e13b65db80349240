"""The pipeline's DAG as a picture without Graphviz: parse Snakemake's ``--dag`` output, group the jobs by rule,
lay the rule graph out in layers (longest path from a source), and draw it with matplotlib.

Users have only Python and PyPI, so ``dot`` is not available; the layout is a small Sugiyama-style one: layers by
longest path, a dummy node wherever an edge spans more than one layer, then barycentre sweeps to reduce crossings.
Everything is deterministic (ties broken by name) so the same graph gives the same PNG.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

_NODE = re.compile(r'^\s*(\d+)\s*\[\s*label\s*=\s*"((?:[^"\\]|\\.)*)"', re.M)
_EDGE = re.compile(r"^\s*(\d+)\s*->\s*(\d+)", re.M)


@dataclass(frozen=True)
class RuleInfo:
    """What a node says about its rule: the script it runs and the output patterns it declares."""

    name: str
    script: str = ""
    rulefile: str = ""
    outputs: tuple[str, ...] = ()


@dataclass
class RuleGraph:
    """Rules of the job DAG with their job counts, rule -> rule edges (upstream first), and the output files of
    each rule's jobs for this config (``snakemake --summary``; empty for a hand-made graph)."""

    jobs: dict[str, int]
    edges: list[tuple[str, str]]
    files: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self, info: dict[str, RuleInfo] | None = None) -> dict:
        info = info or {}
        rules = {}
        for name, n in self.jobs.items():
            r = info.get(name, RuleInfo(name))
            rules[name] = {"jobs": n, "script": r.script, "rulefile": r.rulefile, "outputs": list(r.outputs),
                           "files": self.files.get(name, [])}  # fmt: skip
        return {"rules": rules, "edges": [list(e) for e in self.edges], "layers": longest_path_layers(self)}


@dataclass
class Layout:
    """Node centres in layout units (x: slots, y: layer index, 0 at the top) and each edge's route through the
    dummy nodes of the layers it crosses."""

    layers: list[list[str]]  # real rules only, in drawing order
    x: dict[str, float]
    y: dict[str, int]
    routes: dict[tuple[str, str], list[tuple[float, int]]] = field(default_factory=dict)


def parse_dot(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Snakemake's ``--dag`` / ``--rulegraph`` dot text -> (node id -> rule name, edges between node ids).

    A job's label is its rule name, then (as the two characters ``\\n``) the wildcards its inputs do not have.
    """
    start = text.find("digraph")
    if start < 0:
        raise ValueError("no 'digraph' in the output of snakemake --dag; got: " + text[:300])
    body = text[start:]
    nodes = {m[1]: m[2].split("\\n")[0] for m in _NODE.finditer(body)}
    if not nodes:
        raise ValueError("snakemake --dag printed a graph without jobs: " + body[:300])
    edges = [(m[1], m[2]) for m in _EDGE.finditer(body)]
    unknown = {n for e in edges for n in e} - set(nodes)
    if unknown:
        raise ValueError(f"edges name node ids without a label: {sorted(unknown)}")
    return nodes, edges


# What Snakemake says when a file it listed while building the DAG is gone a moment later: the running workflow
# deleted the old output of a job it was starting (the DAG picture's inner Snakemake runs beside it)
DELETION_RACE = ("File or directory not found", "although it existed before")


def deleted_while_listed(stderr: str) -> bool:
    """Did an inner ``snakemake --dag``/``--summary`` fail only because the running workflow deleted a file under
    it (worth asking again), rather than for a reason of its own?"""
    return any(message in stderr for message in DELETION_RACE)


def parse_summary(text: str) -> dict[str, list[str]]:
    """``snakemake --summary`` (tab-separated: output_file, date, rule, ...) -> rule: its output files, sorted."""
    lines = [line.split("\t") for line in text.splitlines() if "\t" in line]
    if not lines or lines[0][:3] != ["output_file", "date", "rule"]:
        raise ValueError("snakemake --summary printed no table headed output_file, date, rule: " + text[:300])
    files = defaultdict(set)
    for row in lines[1:]:
        files[row[2]].add(row[0])
    return {rule: sorted(f) for rule, f in sorted(files.items())}


def group_by_rule(nodes: dict[str, str], edges: list[tuple[str, str]], files: dict | None = None) -> RuleGraph:
    """One node per rule with its number of jobs; an edge between rules wherever one of their jobs feeds the other."""
    jobs = dict(sorted(Counter(nodes.values()).items()))
    rule_edges = sorted({(nodes[u], nodes[v]) for u, v in edges if nodes[u] != nodes[v]})
    return RuleGraph(jobs=jobs, edges=rule_edges, files={r: f for r, f in (files or {}).items() if r in jobs})


def longest_path_layers(graph: RuleGraph) -> dict[str, int]:
    """Layer of each rule = number of edges on the longest path reaching it from a rule without inputs."""
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for u, v in graph.edges:
        preds[v].append(u)
        succs[u].append(v)
    indegree = {r: len(preds[r]) for r in graph.jobs}
    ready = sorted(r for r, d in indegree.items() if d == 0)
    layer = dict.fromkeys(ready, 0)
    seen = 0
    while ready:
        r = ready.pop(0)
        seen += 1
        for s in sorted(succs[r]):
            layer[s] = max(layer.get(s, 0), layer[r] + 1)
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    if seen != len(graph.jobs):
        cyclic = sorted(r for r, d in indegree.items() if d > 0)
        raise ValueError(f"the rule graph has a cycle through {cyclic}; a DAG was expected")
    return {r: layer[r] for r in graph.jobs}


def _dummy(u: str, v: str, k: int) -> str:
    return f"\0{u}\0{v}\0{k}"  # a name no rule can have


def layout(graph: RuleGraph, sweeps: int = 8, dummy_width: float = 0.12) -> Layout:
    """Layered layout: longest-path layers, dummy nodes on long edges, barycentre ordering, then x pulled towards
    the neighbours in the layers above and below.

    A rule without inputs sits in the layer just above its first consumer (not at the top), so that a side
    branch does not run the height of the picture. Real nodes take one slot of width 1, dummy nodes
    ``dummy_width``; x is the slot centre.
    """
    layer_of = longest_path_layers(graph)
    has_input = {v for _, v in graph.edges}
    for r in graph.jobs:
        consumers = [layer_of[v] for u, v in graph.edges if u == r]
        if r not in has_input and consumers:
            layer_of[r] = min(consumers) - 1
    chains: dict[tuple[str, str], list[str]] = {}
    for u, v in graph.edges:
        chains[(u, v)] = [u] + [_dummy(u, v, k) for k in range(layer_of[u] + 1, layer_of[v])] + [v]
        for k, d in enumerate(chains[(u, v)][1:-1], start=layer_of[u] + 1):
            layer_of[d] = k
    n_layers = max(layer_of.values()) + 1
    order: list[list[str]] = [[] for _ in range(n_layers)]
    for node in sorted(layer_of, key=lambda n: (n.startswith("\0"), n)):
        order[layer_of[node]].append(node)
    up: dict[str, list[str]] = defaultdict(list)
    down: dict[str, list[str]] = defaultdict(list)
    for chain in chains.values():
        for a, b in zip(chain, chain[1:], strict=False):
            down[a].append(b)
            up[b].append(a)

    def sweep(layers, neighbours):
        for i in range(1, len(layers)):
            pos = {n: j for j, n in enumerate(layers[i - 1])}
            current = {n: j for j, n in enumerate(layers[i])}

            def key(n, pos=pos, current=current):
                near = [pos[m] for m in neighbours[n] if m in pos]
                return (sum(near) / len(near) if near else current[n], current[n])

            layers[i] = sorted(layers[i], key=key)

    for _ in range(sweeps):
        sweep(order, up)  # top-down: place each node under its inputs
        order.reverse()
        sweep(order, down)  # bottom-up: place each node above its consumers
        order.reverse()

    width = {n: dummy_width if n.startswith("\0") else 1.0 for n in layer_of}
    x: dict[str, float] = {}
    for nodes in order:
        total, left = sum(width[n] for n in nodes), 0.0
        for n in nodes:
            x[n] = left + width[n] / 2 - total / 2
            left += width[n]
    for _ in range(sweeps):  # straighten edges: pull each node towards its neighbours, keeping order and spacing
        for layers, neighbours in ((order, up), (order[::-1], down)):
            for nodes in layers:
                want = {n: _mean([x[m] for m in neighbours[n]], x[n]) for n in nodes}
                _place(nodes, want, width, x)
    routes = {e: [(x[n], layer_of[n]) for n in chain] for e, chain in chains.items()}
    real = [[n for n in nodes if not n.startswith("\0")] for nodes in order]
    return Layout(layers=real, x={n: x[n] for n in graph.jobs}, y={n: layer_of[n] for n in graph.jobs}, routes=routes)


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _place(nodes: list[str], want: dict[str, float], width: dict[str, float], x: dict[str, float]) -> None:
    """x as close to ``want`` as the order and the widths allow: pack left to right, then shift by the mean miss."""
    prev = None
    for n in nodes:
        x[n] = want[n] if prev is None else max(want[n], x[prev] + (width[prev] + width[n]) / 2)
        prev = n
    shift = _mean([want[n] - x[n] for n in nodes], 0.0)
    for n in nodes:
        x[n] += shift


def wrap_path(path: str, width: int = 30) -> list[str]:
    """A path on lines of at most ``width`` characters where possible, broken after a '/'; continuations indented."""
    parts = [p + "/" for p in path.split("/")[:-1]] + [path.split("/")[-1]]
    lines = [""]
    for part in parts:
        if lines[-1].strip() and len(lines[-1]) + len(part) > width:
            lines.append("  ")
        lines[-1] += part
    return lines


def node_lines(name: str, jobs: int, info: RuleInfo | None, note: str = "", max_outputs: int = 4,
               width: int = 30) -> list[tuple[str, str]]:  # fmt: skip
    """(text, style) lines of a node: rule name, script and job count, then the output patterns (wrapped)."""
    info = info or RuleInfo(name)
    script = info.script or "no script (target rule)"
    lines = [(name, "name"), (f"{script} · {jobs} job{'s' if jobs != 1 else ''}", "script")]
    if note:
        lines.append((note, "script"))
    outputs = list(info.outputs)
    shown = outputs if len(outputs) <= max_outputs else outputs[: max_outputs - 1]
    lines += [(line, "output") for o in shown for line in wrap_path(o, width)]
    if len(shown) < len(outputs):
        lines.append((f"+ {len(outputs) - len(shown)} more outputs", "output"))
    return lines


# font sizes (points) and the width of one character as a fraction of the size, for box sizing without a renderer
_STYLE = {"name": (11, 0.64, "bold", "sans-serif"), "script": (8.5, 0.58, "normal", "sans-serif"),
          "output": (8, 0.61, "normal", "monospace")}  # fmt: skip
DPI = 110  # pixels per inch of the PNG; the report shows it at true size when zoomed in
_PALETTE = ["#dbe9f6", "#fde2c8", "#dcefd9", "#ecdff3", "#f9f0c1", "#f6d5d5", "#d9eeee", "#e6e6e6"]


def draw(graph: RuleGraph, info: dict[str, RuleInfo], out: str | Path, title: str = "", dpi: int = DPI,
         collapse: dict[str, str] | None = None) -> Layout:  # fmt: skip
    """Draw the rule graph to a PNG: one box per rule (name, script, job count, outputs), coloured by rules file.

    ``collapse`` maps a rule to a note shown in its box instead of its incoming edges (a rule reading something
    from every job would otherwise cross the whole picture); the graph itself keeps those edges.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
    from matplotlib.path import Path as MPath

    collapse = {r: note for r, note in (collapse or {}).items() if r in graph.jobs}
    lay = layout(RuleGraph(graph.jobs, [(u, v) for u, v in graph.edges if v not in collapse]))
    lines = {r: node_lines(r, graph.jobs[r], info.get(r), collapse.get(r, "")) for r in graph.jobs}
    inch = 1 / 72  # layout below is in inches; font sizes are points
    line_h = {s: _STYLE[s][0] * 1.45 * inch for s in _STYLE}
    text_w = max(len(t) * _STYLE[s][0] * _STYLE[s][1] * inch for ls in lines.values() for t, s in ls)
    box_w, pad, gap = text_w + 0.3, 0.1, 0.7
    box_h = {r: sum(line_h[s] for _, s in ls) + 2 * pad for r, ls in lines.items()}
    band = [max(box_h[r] for r in layer) for layer in lay.layers]  # boxes of a layer are top-aligned in its band
    slot_w = box_w + 0.35
    xs = [px * slot_w for route in lay.routes.values() for px, _ in route] + [lay.x[r] * slot_w for r in graph.jobs]
    head = 0.55 if title else 0.15
    width = max(xs) - min(xs) + box_w + 0.6
    height = head + sum(band) + gap * (len(band) - 1) + 0.15
    x0 = -min(xs) + box_w / 2 + 0.3
    band_top = [height - head - sum(band[:k]) - gap * k for k in range(len(band))]
    fig = plt.figure(figsize=(width, height), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")

    files = sorted({(info.get(r) or RuleInfo(r)).rulefile for r in graph.jobs})
    colour = {f: _PALETTE[i % len(_PALETTE)] for i, f in enumerate(files)}
    # spread the ends of edges that share a box side, in the order of the boxes they lead to
    out_port, in_port = {}, {}
    for side, port in ((0, out_port), (1, in_port)):
        ends = defaultdict(list)
        for (u, v), route in lay.routes.items():
            near = route[1] if side == 0 else route[-2]
            ends[(u, v)[side]].append((near[0], (u, v)))
        for items in ends.values():
            items.sort()
            for k, (_, e) in enumerate(items):
                port[e] = (k + 1) / (len(items) + 1) - 0.5
    for (u, v), route in lay.routes.items():
        (xu, lu), *middle, (xv, lv) = route
        pts = [(x0 + xu * slot_w + out_port[(u, v)] * box_w * 0.8, band_top[lu] - box_h[u])]
        for px, layer in middle:  # a long edge passes straight down through the bands it crosses, beside the boxes
            pts += [(x0 + px * slot_w, band_top[layer]), (x0 + px * slot_w, band_top[layer] - band[layer])]
        pts.append((x0 + xv * slot_w + in_port[(u, v)] * box_w * 0.8, band_top[lv]))
        verts, codes = [pts[0]], [MPath.MOVETO]
        for a, b in zip(pts, pts[1:], strict=False):  # vertical tangents at both ends of every segment
            mid = (a[1] + b[1]) / 2
            verts += [(a[0], mid), (b[0], mid), b]
            codes += [MPath.CURVE4] * 3
        arrow = FancyArrowPatch(path=MPath(verts, codes), arrowstyle="-|>", mutation_scale=12, lw=1.1,
                                color="#6b7785", shrinkA=0, shrinkB=0, zorder=1)  # fmt: skip
        ax.add_patch(arrow)
    for r in graph.jobs:
        left, top = x0 + lay.x[r] * slot_w - box_w / 2, band_top[lay.y[r]]
        fill = colour[(info.get(r) or RuleInfo(r)).rulefile]
        style = "round,pad=0,rounding_size=0.08"
        box = FancyBboxPatch((left, top - box_h[r]), box_w, box_h[r], boxstyle=style, fc=fill, ec="#3e4c59", lw=1.2)
        ax.add_patch(box)
        y = top - pad
        for text, kind in lines[r]:
            size, _, weight, family = _STYLE[kind]
            y -= line_h[kind]
            ax.text(left + 0.15, y + line_h[kind] * 0.25, text, fontsize=size, fontweight=weight, family=family,
                    va="baseline", ha="left", zorder=3, color="#1f2933")  # fmt: skip
    if title:
        ax.text(0.3, height - 0.3, title, fontsize=12, fontweight="bold", va="center", ha="left")
    handles = [Patch(fc=colour[f], ec="#3e4c59", label=f or "(no rules file)") for f in files]
    ax.legend(handles=handles, loc="upper right", fontsize=9, title="rules file", title_fontsize=9, frameon=False)
    fig.savefig(out, dpi=dpi, metadata={"Software": None})  # no version string: same graph, same bytes
    plt.close(fig)
    return lay


def rule_table(rules) -> dict[str, dict]:
    """Snakemake rules (``workflow.rules``) -> name: script file name, rules file and output patterns."""
    from snakemake.io import strip_wildcard_constraints

    return {
        r.name: {
            "script": Path(r.script).name if r.script else "",
            "rulefile": Path(r.snakefile).name,
            "outputs": [strip_wildcard_constraints(str(o)) for o in r.output],
        }
        for r in rules
    }


def structural_config(config: dict) -> dict:
    """The config as far as it can change which jobs exist: prior sets by name, without their numbers, and
    without ``worker`` (where jobs run, not which).

    Priors reach jobs only through params, one prior set per job, so a prior's numbers never add or remove a
    job. The dag job tracks this instead of the whole config, so a prior edit leaves its picture alone.
    """
    return {**{k: v for k, v in config.items() if k != "worker"}, "priors": dict.fromkeys(config["priors"])}
