"""A layered (Sugiyama) DAG layout in plain Python: longest-path layers, dummy nodes on long edges,
barycentre sweeps to cut crossings, then coordinates. Small graphs (tens to hundreds of nodes) lay
out in milliseconds, so the widget needs no JavaScript layout library."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

NODE_W, NODE_H = 150.0, 38.0
GAP_X, GAP_Y = 28.0, 56.0
MARGIN = 16.0
SWEEPS = 6


@dataclass(slots=True)
class Layout:
    x: dict[str, float] = field(default_factory=dict)  # centre of each node
    y: dict[str, float] = field(default_factory=dict)
    edges: list[tuple[str, str, list[tuple[float, float]]]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a in preds and b in preds and a != b:
            preds[b].append(a)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(n: str) -> int:
        if n in layer:
            return layer[n]
        if n in visiting:  # a cycle (should not happen in a valid graph): break it here
            return 0
        visiting.add(n)
        d = 1 + max((depth(p) for p in preds[n]), default=-1)
        visiting.discard(n)
        layer[n] = d
        return d

    for n in nodes:
        depth(n)
    return layer


def layout(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> Layout:
    """Positions for ``nodes`` (top to bottom along ``edges``) and polylines for the edges."""
    if not nodes:
        return Layout(width=2 * MARGIN, height=2 * MARGIN)
    layer = _layers(nodes, edges)
    rank: dict[str, int] = dict(layer)
    # long edges go through one dummy node per layer they cross
    chains: list[tuple[str, str, list[str]]] = []
    links: list[tuple[str, str]] = []
    for a, b in edges:
        if a not in rank or b not in rank or a == b:
            continue
        path = [a]
        for i, r in enumerate(range(rank[a] + 1, rank[b])):
            dummy = f"\0{a}\0{b}\0{i}"
            rank[dummy] = r
            path.append(dummy)
        path.append(b)
        links.extend(itertools.pairwise(path))
        chains.append((a, b, path))
    count = max(rank.values()) + 1
    rows: list[list[str]] = [[] for _ in range(count)]
    for n in rank:  # first-seen order is the initial order
        rows[rank[n]].append(n)
    ups: dict[str, list[str]] = {n: [] for n in rank}
    downs: dict[str, list[str]] = {n: [] for n in rank}
    for a, b in links:
        downs[a].append(b)
        ups[b].append(a)
    pos = {n: float(i) for row in rows for i, n in enumerate(row)}
    for sweep in range(SWEEPS):
        order = range(1, count) if sweep % 2 == 0 else range(count - 2, -1, -1)
        for r in order:
            nbrs = ups if sweep % 2 == 0 else downs

            def bary(n: str, nbrs: dict[str, list[str]] = nbrs) -> float:
                ns = nbrs[n]
                return sum(pos[m] for m in ns) / len(ns) if ns else pos[n]

            rows[r].sort(key=bary)
            for i, n in enumerate(rows[r]):
                pos[n] = float(i)
    widest = max(len(row) for row in rows)
    span = widest * (NODE_W + GAP_X) - GAP_X
    out = Layout(width=span + 2 * MARGIN, height=count * (NODE_H + GAP_Y) - GAP_Y + 2 * MARGIN)
    xs: dict[str, float] = {}
    for r, row in enumerate(rows):
        offset = (span - (len(row) * (NODE_W + GAP_X) - GAP_X)) / 2
        for i, n in enumerate(row):
            xs[n] = MARGIN + offset + i * (NODE_W + GAP_X) + NODE_W / 2
            if not n.startswith("\0"):
                out.x[n] = xs[n]
                out.y[n] = MARGIN + r * (NODE_H + GAP_Y) + NODE_H / 2
    for a, b, path in chains:
        points = [(xs[a], out.y[a] + NODE_H / 2)]
        for d in path[1:-1]:
            points.append((xs[d], MARGIN + rank[d] * (NODE_H + GAP_Y) + NODE_H / 2))
        points.append((xs[b], out.y[b] - NODE_H / 2))
        out.edges.append((a, b, points))
    return out
