"""What a piece of cell code reads and defines, found by walking its AST.

Module-level statements are walked in order, so ``x = 1; print(x)`` defines ``x`` without
reading it, while ``print(x); x = 1`` reads it first. Function, lambda and class bodies are
separate scopes: their parameters and locals stay inside, and the globals they use count as
reads of the cell. Comprehension variables stay inside the comprehension. ``x += 1`` both reads
and defines ``x``; ``del x`` is recorded in ``deletes``. Builtins are never reads.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass

_BUILTINS = frozenset(dir(builtins))
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True, slots=True)
class CellNames:
    defines: tuple[str, ...]
    reads: tuple[str, ...]
    deletes: tuple[str, ...] = ()


def _target_names(node: ast.AST) -> list[str]:
    """Names bound by an assignment target (tuples, starred, but not attributes/subscripts)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for elt in node.elts for n in _target_names(elt)]
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    return []


def _pattern_names(pattern: ast.AST) -> list[str]:
    names = []
    for sub in ast.walk(pattern):
        if isinstance(sub, (ast.MatchAs, ast.MatchStar)) and sub.name:
            names.append(sub.name)
        elif isinstance(sub, ast.MatchMapping) and sub.rest:
            names.append(sub.rest)
    return names


def _scope_locals(node: ast.AST) -> tuple[set[str], set[str]]:
    """(locals, declared globals) of a function/lambda/class body, not descending into inner scopes."""
    local: set[str] = set()
    declared_global: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = node.args
        for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
            if arg is not None:
                local.add(arg.arg)
    body = node.body if isinstance(node.body, list) else [node.body]
    stack: list[ast.AST] = list(body)
    while stack:
        cur = stack.pop()
        if isinstance(cur, ast.Global):
            declared_global.update(cur.names)
            continue
        if isinstance(cur, ast.Nonlocal):
            continue
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            local.add(cur.name)
            stack.extend(cur.decorator_list)
            continue
        if isinstance(cur, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        if isinstance(cur, ast.Name) and isinstance(cur.ctx, (ast.Store, ast.Del)):
            local.add(cur.id)
        elif isinstance(cur, ast.NamedExpr):
            local.update(_target_names(cur.target))
        elif isinstance(cur, (ast.Import, ast.ImportFrom)):
            local.update((a.asname or a.name).split(".")[0] for a in cur.names if a.name != "*")
        elif isinstance(cur, ast.ExceptHandler) and cur.name:
            local.add(cur.name)
        elif isinstance(cur, ast.match_case):
            local.update(_pattern_names(cur.pattern))
        stack.extend(ast.iter_child_nodes(cur))
    return local - declared_global, declared_global


class _Walker:
    def __init__(self) -> None:
        self.defined: list[str] = []
        self._defined_set: set[str] = set()
        self.reads: list[str] = []
        self._read_set: set[str] = set()
        self.deletes: list[str] = []
        self.deferred: set[str] = set()  # globals used inside functions: resolved at the end

    def define(self, name: str) -> None:
        if name not in self._defined_set:
            self._defined_set.add(name)
            self.defined.append(name)

    def read(self, name: str) -> None:
        if name not in self._defined_set and name not in self._read_set and name not in _BUILTINS:
            self._read_set.add(name)
            self.reads.append(name)

    # -- module-level statements, in order
    def stmt(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for dec in node.decorator_list:
                self.expr(dec)
            if isinstance(node, ast.ClassDef):
                for base in [*node.bases, *(k.value for k in node.keywords)]:
                    self.expr(base)
            else:
                for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
                    self.expr(default)
            self.define(node.name)
            self.scope(node, set())
        elif isinstance(node, ast.Assign):
            self.expr(node.value)
            for target in node.targets:
                self.target(target)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.expr(node.value)
                self.target(node.target)
            elif not isinstance(node.target, ast.Name):
                self.expr(node.target)
        elif isinstance(node, ast.AugAssign):
            if isinstance(node.target, ast.Name):
                self.read(node.target.id)
            self.expr(node.value)
            self.target(node.target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    self.define((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.read(target.id)
                    if target.id not in self.deletes:
                        self.deletes.append(target.id)
                else:
                    self.expr(target)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter)
            self.target(node.target)
            self.block([*node.body, *node.orelse])
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self.target(item.optional_vars)
            self.block(node.body)
        elif isinstance(node, (ast.Try, ast.TryStar)):
            self.block(node.body)
            for handler in node.handlers:
                if handler.type is not None:
                    self.expr(handler.type)
                if handler.name:
                    self.define(handler.name)
                self.block(handler.body)
            self.block([*node.orelse, *node.finalbody])
        elif isinstance(node, ast.Match):
            self.expr(node.subject)
            for case in node.cases:
                for sub in ast.walk(case.pattern):
                    if isinstance(sub, ast.expr):
                        self.expr(sub)
                for name in _pattern_names(case.pattern):
                    self.define(name)
                if case.guard is not None:
                    self.expr(case.guard)
                self.block(case.body)
        elif isinstance(node, (ast.If, ast.While)):
            self.expr(node.test)
            self.block([*node.body, *node.orelse])
        elif isinstance(node, ast.Global | ast.Nonlocal):
            pass
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self.stmt(child)
                else:
                    self.expr(child)

    def block(self, body: list[ast.stmt]) -> None:
        for s in body:
            self.stmt(s)

    def target(self, node: ast.AST) -> None:
        names = _target_names(node)
        if names:
            for name in names:
                self.define(name)
            # subscripts/attributes nested in a tuple target still read their base
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Attribute, ast.Subscript)):
                    self.expr(sub)
        else:
            self.expr(node)  # x.attr = ... / x[i] = ... read x

    # -- expressions at module level (evaluated now)
    def expr(self, node: ast.AST, local: frozenset[str] = frozenset()) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load) and node.id not in local:
                self.read(node.id)
            return
        if isinstance(node, ast.NamedExpr):
            self.expr(node.value, local)
            for name in _target_names(node.target):
                self.define(name)
            return
        if isinstance(node, ast.Lambda):
            for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
                self.expr(default, local)
            self.scope(node, set(local))
            return
        if isinstance(node, _COMPREHENSIONS):
            inner = set(local)
            for i, gen in enumerate(node.generators):
                # the first iterable is evaluated in the enclosing scope
                self.expr(gen.iter, frozenset(inner) if i else local)
                inner.update(_target_names(gen.target))
                for cond in gen.ifs:
                    self.expr(cond, frozenset(inner))
            elts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for elt in elts:
                self.expr(elt, frozenset(inner))
            return
        for child in ast.iter_child_nodes(node):
            self.expr(child, local)

    # -- deferred scopes (function and class bodies)
    def scope(self, node: ast.AST, enclosing: set[str]) -> None:
        local, declared_global = _scope_locals(node)
        for name in declared_global:
            self.define(name)
        visible = enclosing | local
        body = node.body if isinstance(node.body, list) else [node.body]
        stack: list[ast.AST] = list(body)
        while stack:
            cur = stack.pop()
            if isinstance(cur, _SCOPES):
                if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    stack.extend(cur.decorator_list)
                self.scope(cur, visible)
                continue
            if isinstance(cur, _COMPREHENSIONS):
                comp_names = {n for g in cur.generators for n in _target_names(g.target)}
                self.scope_expr(cur, visible | comp_names)
                continue
            if isinstance(cur, ast.Name) and isinstance(cur.ctx, ast.Load) and cur.id not in visible:
                self.deferred.add(cur.id)
            stack.extend(ast.iter_child_nodes(cur))

    def scope_expr(self, node: ast.AST, visible: set[str]) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id not in visible:
                self.deferred.add(sub.id)

    def finish(self) -> CellNames:
        for name in sorted(self.deferred):
            self.read(name)  # already-defined names (anywhere in the cell) are skipped
        return CellNames(tuple(self.defined), tuple(self.reads), tuple(self.deletes))


def analyze(code: str | ast.Module) -> CellNames:
    """Names ``code`` defines and reads at module level (raises SyntaxError if it does not parse)."""
    tree = ast.parse(code) if isinstance(code, str) else code
    walker = _Walker()
    walker.block(tree.body)
    return walker.finish()


def defined_names(code: str) -> tuple[str, ...]:
    """Names the code binds at module level (empty if it does not parse)."""
    try:
        return analyze(code).defines
    except SyntaxError:
        return ()
