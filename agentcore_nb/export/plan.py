"""A notebook (nbformat) -> an export plan: exported cells as nodes, parameters, definitions, output.

Soundness first: every reason a cell cannot ship is collected, and the export is refused with one
report naming each cell (id, first line), its reason and the fix. Reads are bound to the latest
*earlier* cell that defines the name (notebook order, top to bottom, is the order the graph keeps).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AgentcoreError
from ..graph.validate import NAME_RE
from ..notebook.nodes import RESULT_KEY, CellNode, CellParseError, cell_node

SKIP_TAG = "skip-export"
PARAMETERS_TAG = "parameters"
OUTPUT_TAG = "output"


@dataclass(frozen=True, slots=True)
class ExportProblem:
    """One reason the notebook cannot ship, tied to its cell so a frontend can point at it.

    ``message`` is the whole one-line report (``cell ID (first line): reason -> fix: ...``);
    ``cell_id``/``index`` (1-based among all cells) are ``None`` when it is about several cells.
    """

    kind: str  # a stable code: syntax, parameters, output, name, fallback, read, order, cycle, ...
    message: str
    cell_id: str | None = None
    index: int | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "cell_id": self.cell_id, "index": self.index, "message": self.message}


class ExportError(AgentcoreError):
    """The notebook cannot be exported; ``problems`` lists each cell with its reason and fix."""

    def __init__(
        self, message: str, problems: list[ExportProblem] | None = None, *, hint: str | None = None
    ) -> None:
        self.problems = list(problems or [])
        self.report = message + "".join(f"\n  - {p}" for p in self.problems)
        super().__init__(
            message if not self.problems else f"{message}: " + "; ".join(map(str, self.problems)),
            hint=hint,
        )


@dataclass(slots=True)
class Cell:
    """One code cell of the notebook, as the export sees it."""

    index: int  # 1-based position among all cells
    cell_id: str
    source: str
    tags: tuple[str, ...]
    node: CellNode | None = None
    name: str = ""  # node name in the graph
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def first_line(self) -> str:
        line = next((ln.strip() for ln in self.source.splitlines() if ln.strip()), "")
        return line if len(line) <= 60 else line[:57] + "..."

    @property
    def label(self) -> str:
        return f"cell {self.cell_id or f'#{self.index}'} ({self.first_line})"

    def problem(self, kind: str, text: str) -> ExportProblem:
        """A problem about this cell: ``LABEL: text``."""
        return ExportProblem(kind, f"{self.label}: {text}", self.cell_id or None, self.index)


@dataclass(slots=True)
class Plan:
    """What a bundle holds, before it is written."""

    name: str
    notebook: Path
    cells: list[Cell]  # exported nodes, in notebook order
    parameters: dict[str, dict[str, Any]]
    output: str
    tools: list[dict[str, Any]]
    tool_code: list[tuple[Cell, str]]
    agents: dict[str, dict[str, Any]]
    model: dict[str, Any] | None
    left_out: list[str]
    standby: set[str]


def read_notebook(path: Path) -> Any:
    """The notebook as nbformat v4, or one line saying why it cannot be read."""
    import nbformat

    if not path.exists():
        raise ExportError(f"no such notebook: {path}")
    if path.is_dir() or path.suffix != ".ipynb":
        raise ExportError(f"{path} is not a notebook (.ipynb)")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several types for a broken file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(
            f"cannot read notebook {path.name}: {first}", hint="is it valid nbformat JSON?"
        ) from None
    lang = (nb.metadata.get("kernelspec") or {}).get("language") or (
        nb.metadata.get("language_info") or {}
    ).get("name")
    if lang and str(lang).lower() != "python":
        raise ExportError(
            f"{path.name} is a {lang} notebook; only Python notebooks export to a graph",
            hint="use a Python (AgentCore) kernel notebook",
        )
    if not any(c.cell_type == "code" and c.source.strip() for c in nb.cells):
        raise ExportError(f"{path.name} has no code cells: there is nothing to export", hint="add code cells")
    return nb


def graph_name(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_\-]", "-", path.stem).strip("-") or "notebook"
    if not name[0].isalpha():
        name = "nb-" + name
    return name[:100]


def _node_name(cell: Cell, taken: set[str]) -> str:
    base = f"cell_{re.sub(r'[^A-Za-z0-9_]', '_', cell.cell_id)}" if cell.cell_id else f"cell_{cell.index}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def parameters_of(cell: Cell) -> tuple[dict[str, dict[str, Any]], str | None]:
    """``{name: {"default": value} | {"required": True}}`` from plain assignments of literals."""
    fix = "write only NAME = LITERAL lines (numbers, strings, lists, dicts, None), or NAME: TYPE for a required one"
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        return {}, f"syntax error at line {exc.lineno}: {exc.msg} -> fix: fix the cell's code"
    out: dict[str, dict[str, Any]] = {}
    for stmt in tree.body:
        value: ast.expr | None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            target, value = stmt.targets[0].id, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            target, value = stmt.target.id, stmt.value
            if value is None:
                out[target] = {"required": True}
                continue
        else:
            line = ast.get_source_segment(cell.source, stmt) or ""
            return (
                {},
                f"the parameters cell is not plain assignments ({line.splitlines()[0][:40]}) -> fix: {fix}",
            )
        try:
            out[target] = {"default": ast.literal_eval(value)}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return {}, f"parameter '{target}' is not a literal value -> fix: {fix}"
    return out, None


def plan_export(path: Path) -> Plan:
    """Read and check the notebook; raise :class:`ExportError` with every problem at once."""
    nb = read_notebook(path)
    problems: list[ExportProblem] = []
    left_out: list[str] = []
    cells: list[Cell] = []
    params: dict[str, dict[str, Any]] = {}
    params_cell: Cell | None = None
    output_cells: list[Cell] = []
    skipped_defines: dict[str, Cell] = {}
    for i, raw in enumerate(nb.cells, start=1):
        if raw.cell_type != "code" or not raw.source.strip():
            continue
        tags = tuple(str(t) for t in (raw.get("metadata", {}).get("tags") or ()))
        cell = Cell(i, str(raw.get("id") or ""), raw.source, tags)
        if SKIP_TAG in tags:
            left_out.append(f"{cell.label}: tagged {SKIP_TAG}")
            try:
                for n in cell_node(raw.source).defines:
                    skipped_defines.setdefault(n, cell)
            except CellParseError:
                pass
            continue
        if PARAMETERS_TAG in tags:
            if params_cell is not None:
                problems.append(
                    cell.problem(
                        "parameters", "a second parameters cell -> fix: keep one cell tagged parameters"
                    )
                )
                continue
            params_cell = cell
            found, why = parameters_of(cell)
            if why:
                problems.append(cell.problem("parameters", why))
            params = found
            continue
        try:
            cell.node = cell_node(raw.source)
        except CellParseError as exc:
            kind = "syntax" if exc.reason.startswith("syntax error") else "cell"
            problems.append(cell.problem(kind, f"{exc.reason} -> fix: {exc.fix}"))
            continue
        if cell.node.role == "view":
            left_out.append(f"{cell.label}: shows notebook state only")
            if OUTPUT_TAG in tags:
                problems.append(
                    cell.problem(
                        "output", "tagged output but computes nothing -> fix: tag a step or code cell"
                    )
                )
            continue
        if OUTPUT_TAG in tags:
            output_cells.append(cell)
        cells.append(cell)
    if len(output_cells) > 1:
        ids = ", ".join(c.cell_id or f"#{c.index}" for c in output_cells)
        problems.append(ExportProblem("output", f"cells {ids} are all tagged output -> fix: tag one"))
    definitions = _definitions(cells, problems)
    steps = [c for c in cells if c.node is not None and c.node.role in ("python", "step")]
    taken: set[str] = set()
    for c in steps:
        assert c.node is not None
        c.name = c.node.name or _node_name(c, taken)
        if c.name in taken:
            problems.append(
                c.problem("name", f"node name '{c.name}' is used twice -> fix: rename one %%node")
            )
        taken.add(c.name)
    standby = {c.node.policy.get("fallback") for c in steps if c.node and c.node.policy.get("fallback")}
    for c in steps:
        fb = c.node.policy.get("fallback") if c.node else None
        if fb and fb not in taken:
            problems.append(
                c.problem(
                    "fallback", f"falls back to '{fb}', which is no exported cell -> fix: add or untag it"
                )
            )
    for c in output_cells:
        if c not in steps:
            problems.append(
                c.problem(
                    "output", "tagged output but only defines something -> fix: tag a step or code cell"
                )
            )
    _bind(steps, params, definitions["globals"], skipped_defines, standby, problems)
    if not steps and not problems:
        problems.append(
            ExportProblem("empty", f"{path.name}: no cell computes anything -> fix: add a code or step cell")
        )
    last = len(nb.cells) + 1  # problems about several cells come after those about one
    problems = sorted(dict.fromkeys(problems), key=lambda p: last if p.index is None else p.index)
    if problems:
        raise ExportError(f"cannot export {path.name}: {len(problems)} problem(s)", problems)
    chosen = output_cells[0] if output_cells else next(c for c in reversed(steps) if c.name not in standby)
    if chosen.name in standby:
        raise ExportError(f"cannot export {path.name}: the output cell only runs as a fallback")
    return Plan(
        name=graph_name(path),
        notebook=path,
        cells=steps,
        parameters=params,
        output=chosen.name,
        tools=definitions["tools"],
        tool_code=definitions["tool_code"],
        agents=definitions["agents"],
        model=definitions["model"],
        left_out=left_out,
        standby={s for s in standby if s},
    )


def _definitions(cells: list[Cell], problems: list[ExportProblem]) -> dict[str, Any]:
    """Tools, agents (sub-agent links and the default model applied) and the model, in cell order.

    An ``%agent`` step gets the agent's definition as it stood when the step ran.
    """
    from ..agent.spec import Agent, AgentError

    tools: list[dict[str, Any]] = []
    tool_code: list[tuple[Cell, str]] = []
    agents: dict[str, Agent] = {}
    links: dict[str, list[str]] = {}
    model: dict[str, Any] | None = None
    module_globals: set[str] = set()
    for cell in cells:
        node = cell.node
        assert node is not None
        if node.defines_kind == "tool":
            if node.reads:
                problems.append(
                    cell.problem(
                        "tool",
                        f"the tool uses {', '.join(repr(r) for r in node.reads)} from other cells "
                        "-> fix: define or import it inside the %%tool cell",
                    )
                )
            tools.append({**node.config, "cell": cell.cell_id})
            tool_code.append((cell, node.code))
            module_globals.update(node.defines)
        elif node.defines_kind == "model":
            model = dict(node.config) if node.config.get("model") else None
        elif node.defines_kind == "agent":
            agent = Agent.from_config(node.config["agent"])
            agents[agent.name] = agent
            for parent, children in links.items():
                if agent.name in children and parent in agents:
                    agents[parent].add_subagent(agent)
            for child in links.get(agent.name, []):
                if child in agents:
                    agent.add_subagent(agents[child])
        elif node.defines_kind == "subagent":
            parent, child = node.config["parent"], node.config["child"]
            if parent not in agents or child not in agents:
                missing = parent if parent not in agents else child
                problems.append(
                    cell.problem(
                        "agent", f"agent '{missing}' is not defined above -> fix: move its %%agent cell up"
                    )
                )
                continue
            try:
                agents[parent].add_subagent(agents[child])
            except AgentError as exc:
                problems.append(cell.problem("agent", f"{exc.message} -> fix: change the link"))
                continue
            links.setdefault(parent, []).append(child)
        elif node.kind == "agent" and node.role == "step":
            name = node.config["agent"]
            if name not in agents:
                problems.append(
                    cell.problem(
                        "agent", f"agent '{name}' is not defined above -> fix: add a %%agent {name} cell"
                    )
                )
                continue
            node.config = {
                "agent": _with_model(agents[name].to_config(), model),
                "request": node.config["request"],
            }
        elif node.kind == "reason" and node.role == "step" and model and "model" not in node.config:
            node.config = {**node.config, **model}
    return {
        "tools": tools,
        "tool_code": tool_code,
        "agents": {n: _with_model(a.to_config(), model) for n, a in agents.items()},
        "model": model,
        "globals": module_globals,
    }


def _with_model(config: dict[str, Any], model: dict[str, Any] | None) -> dict[str, Any]:
    """The agent as it ran: without a model of its own it used the notebook's ``%model``."""
    out = dict(config)
    if model and "model" not in out:
        out["model"] = model["model"]
        if model.get("base_url"):
            out["base_url"] = model["base_url"]
    if out.get("subagents"):
        out["subagents"] = [_with_model(s, model) for s in out["subagents"]]
    return out


def _bind(
    steps: list[Cell],
    params: dict[str, dict[str, Any]],
    module_globals: set[str],
    skipped: dict[str, Cell],
    standby: set[Any],
    problems: list[ExportProblem],
) -> None:
    """Wire each read to the latest earlier definer; report what cannot be wired."""
    definers: dict[str, list[Cell]] = {}
    for c in steps:
        if c.name in standby:
            continue
        for n in c.node.defines if c.node else ():
            definers.setdefault(n, []).append(c)
    position = {c.name: i for i, c in enumerate(steps)}
    later_edges: dict[str, set[str]] = {}
    earlier_edges: dict[str, set[str]] = {}
    deferred: dict[str, list[tuple[str, Cell]]] = {}
    for c in steps:
        node = c.node
        assert node is not None
        for n in node.reads:
            if n in module_globals and n not in definers:
                continue
            owners = definers.get(n, [])
            before = [d for d in owners if position[d.name] < position[c.name]]
            if n in params:
                if owners:
                    problems.append(
                        owners[0].problem(
                            "redefined",
                            f"redefines parameter '{n}', so notebook order decides its value "
                            "-> fix: rename the variable, or tag the cell skip-export",
                        )
                    )
                c.inputs[n] = f"$input.{n}"
                continue
            if not before:
                after = [d for d in owners if d is not c]
                if after:
                    later_edges.setdefault(c.name, set()).update(d.name for d in after)
                    deferred.setdefault(c.name, []).append((n, after[0]))
                    continue
                if n in node.defines:
                    continue  # ``x = x + 1`` with no earlier x: reported by Python itself, as in the notebook
                where = skipped.get(n)
                fix = (
                    f"untag {where.label} (skip-export) or define '{n}' in an exported cell"
                    if where is not None
                    else f"define '{n}' in an exported cell, or add it to the parameters cell"
                )
                problems.append(
                    c.problem(
                        "unbound",
                        f"reads '{n}', which no exported cell defines and no parameter provides -> fix: {fix}",
                    )
                )
                continue
            last = before[-1]
            overwritten = [d for d in before[:-1] if not (last.node and n in last.node.reads)]
            if overwritten:
                problems.append(
                    last.problem(
                        "redefined",
                        f"redefines '{n}' (also defined by {overwritten[-1].label}) and {c.label} reads it, "
                        "so notebook order decides its value -> fix: give each value its own name",
                    )
                )
            assert last.node is not None
            if last.node.role == "python":
                c.inputs[n] = f"{last.name}.{n}"
            else:
                key = RESULT_KEY.get(last.node.kind)
                c.inputs[n] = f"{last.name}.{key}" if key else last.name
            earlier_edges.setdefault(c.name, set()).add(last.name)
    for name, reads in deferred.items():
        cycle = _cycle_through(name, later_edges, earlier_edges)
        cell = steps[position[name]]
        if cycle:
            labels = " -> ".join(cycle)
            problems.append(
                cell.problem(
                    "cycle", f"cycle {labels} -> fix: move the shared names into one cell, or break the loop"
                )
            )
            continue
        for n, definer in reads:
            problems.append(
                cell.problem(
                    "order", f"reads '{n}' before {definer.label} defines it -> fix: move this cell below it"
                )
            )


def _cycle_through(start: str, later: dict[str, set[str]], earlier: dict[str, set[str]]) -> list[str] | None:
    """A path start -> ... -> start over read edges (both directions of notebook order)."""
    edges = {k: set(v) for k, v in earlier.items()}
    for k, v in later.items():
        edges.setdefault(k, set()).update(v)
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def check_node_name(name: str) -> bool:
    return NAME_RE.match(name) is not None
