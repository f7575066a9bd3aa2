"""What a piece of cell code reads and defines, found by walking its AST.

Module-level statements are walked in order, so ``x = 1; print(x)`` defines ``x`` without
reading it, while ``print(x); x = 1`` reads it first. Function and lambda bodies are separate,
deferred scopes: their parameters and locals stay inside, and the globals they use count as reads
of the cell unless the cell defines them anywhere. A class body runs at once, so its reads count
where the class statement is; its own names are invisible to its methods, as in Python.
Comprehension variables stay inside the comprehension (a walrus inside one binds outside).
``x += 1`` both reads and defines ``x``; ``del x`` is recorded in ``deletes`` (and ``x`` leaves
``defines``); an ``except ... as e`` name is unbound after its handler, as in Python. Annotations,
decorators and default values are evaluated where they appear. Builtins are not ``reads``; the
ones a cell uses are listed in ``builtins_read`` (another cell may shadow them, e.g. ``input =``).

The walk is iterative and table-driven: a 200-line cell costs well under a millisecond here, which
matters because the notebook kernel analyses every cell it runs.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_BUILTINS = frozenset(dir(builtins))
_EMPTY: frozenset[str] = frozenset()

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_Name, _Load = ast.Name, ast.Load

#: Fields that never hold expressions worth walking (identifiers, operators, contexts, literals).
_SKIP_FIELDS = frozenset(
    {
        "ctx",
        "op",
        "ops",
        "id",
        "attr",
        "arg",
        "name",
        "names",
        "module",
        "level",
        "conversion",
        "kind",
        "type_comment",
        "is_async",
        "simple",
        "type_ignores",
        "lineno",
        "col_offset",
    }
)


def _child_fields(cls: type) -> tuple[str, ...]:
    if cls is ast.Constant:
        return ()
    return tuple(f for f in cls._fields if f not in _SKIP_FIELDS)  # type: ignore[attr-defined]


_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    got = _FIELDS.get(cls)
    if got is None:
        got = _FIELDS[cls] = _child_fields(cls)
    return got


@dataclass(frozen=True, slots=True)
class CellNames:
    defines: tuple[str, ...]
    reads: tuple[str, ...]
    deletes: tuple[str, ...] = ()
    builtins_read: tuple[str, ...] = ()


def _target_names(node: ast.AST) -> list[str]:
    """Names bound by an assignment target (tuples, starred, but not attributes/subscripts)."""
    t = type(node)
    if t is ast.Name:
        return [node.id]  # type: ignore[attr-defined]
    if t is ast.Tuple or t is ast.List:
        return [n for elt in node.elts for n in _target_names(elt)]  # type: ignore[attr-defined]
    if t is ast.Starred:
        return _target_names(node.value)  # type: ignore[attr-defined]
    return []


def _pattern_captures(pattern: ast.AST) -> list[str]:
    names = []
    for sub in ast.walk(pattern):
        if isinstance(sub, (ast.MatchAs, ast.MatchStar)) and sub.name:
            names.append(sub.name)
        elif isinstance(sub, ast.MatchMapping) and sub.rest:
            names.append(sub.rest)
    return names


def _pattern_exprs(pattern: ast.AST) -> list[ast.expr]:
    """Expressions a pattern evaluates: value patterns and class names."""
    out: list[ast.expr] = []
    for sub in ast.walk(pattern):
        if isinstance(sub, ast.MatchValue):
            out.append(sub.value)
        elif isinstance(sub, ast.MatchClass):
            out.append(sub.cls)
        elif isinstance(sub, ast.MatchMapping):
            out.extend(sub.keys)
    return out


def _arg_names(a: ast.arguments) -> list[str]:
    return [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg) if x is not None]


def _signature_exprs(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[ast.expr]:
    """What a def or lambda evaluates where it stands: decorators, defaults, annotations."""
    a = node.args
    out: list[ast.expr] = [*a.defaults, *(d for d in a.kw_defaults if d is not None)]
    if not isinstance(node, ast.Lambda):
        out = [*node.decorator_list, *out]
        for x in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
            if x is not None and x.annotation is not None:
                out.append(x.annotation)
        if node.returns is not None:
            out.append(node.returns)
    return out


class _Walker:
    def __init__(self) -> None:
        self.defined: dict[str, None] = {}
        self.reads: dict[str, None] = {}
        self.builtins_read: dict[str, None] = {}
        self.deletes: dict[str, None] = {}
        self.deferred: dict[str, None] = {}  # globals used inside functions: resolved at the end
        self.ever_defined: set[str] = set()

    def define(self, name: str) -> None:
        self.defined[name] = None
        self.ever_defined.add(name)
        self.deletes.pop(name, None)

    def read(self, name: str) -> None:
        if name in self.defined or name in self.reads:
            return
        if name in _BUILTINS:
            self.builtins_read[name] = None
        else:
            self.reads[name] = None

    # ------------------------------------------------------------ module-level statements, in order
    def block(self, body: Iterable[ast.stmt]) -> None:
        handlers: dict[type, Any] = _STMT_HANDLERS
        for s in body:
            handler = handlers.get(type(s))
            if handler is not None:
                handler(self, s)
            else:
                self.generic_stmt(s)

    def generic_stmt(self, node: ast.AST) -> None:
        for field in _fields(type(node)):
            value = getattr(node, field, None)
            if value is None:
                continue
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.stmt):
                        self.block([item])
                    elif item is not None:
                        self.expr(item)
            elif isinstance(value, ast.stmt):
                self.block([value])
            elif isinstance(value, ast.AST):
                self.expr(value)

    def s_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for e in _signature_exprs(node):
            self.expr(e)
        self.define(node.name)
        self.scope(node, _EMPTY)

    def s_class(self, node: ast.ClassDef) -> None:
        for e in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.expr(e)
        self.class_body(node)
        self.define(node.name)

    def s_assign(self, node: ast.Assign) -> None:
        self.expr(node.value)
        for target in node.targets:
            self.target(target)

    def s_annassign(self, node: ast.AnnAssign) -> None:
        self.expr(node.annotation)
        if node.value is not None:
            self.expr(node.value)
            self.target(node.target)
        elif not isinstance(node.target, ast.Name):
            self.expr(node.target)

    def s_augassign(self, node: ast.AugAssign) -> None:
        target = node.target
        if type(target) is ast.Name:
            self.read(target.id)
            self.expr(node.value)
            self.define(target.id)
        else:
            self.expr(target)
            self.expr(node.value)

    def s_import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.define(alias.asname or alias.name.split(".")[0])

    def s_delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            for name in _target_names(target) if type(target) is not ast.Name else [target.id]:
                self.read(name)
                self.defined.pop(name, None)
                self.deletes[name] = None
            if type(target) not in (ast.Name, ast.Tuple, ast.List):
                self.expr(target)

    def s_for(self, node: ast.For | ast.AsyncFor) -> None:
        self.expr(node.iter)
        self.target(node.target)
        self.block(node.body)
        self.block(node.orelse)

    def s_with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.block(node.body)

    def s_try(self, node: ast.Try) -> None:
        self.block(node.body)
        for handler in node.handlers:
            if handler.type is not None:
                self.expr(handler.type)
            name = handler.name
            if name:
                was_defined = name in self.defined
                self.defined[name] = None
                self.block(handler.body)
                if not was_defined:
                    self.defined.pop(name, None)  # Python unbinds it after the handler
            else:
                self.block(handler.body)
        self.block(node.orelse)
        self.block(node.finalbody)

    def s_match(self, node: ast.Match) -> None:
        self.expr(node.subject)
        for case in node.cases:
            for e in _pattern_exprs(case.pattern):
                self.expr(e)
            for name in _pattern_captures(case.pattern):
                self.define(name)
            if case.guard is not None:
                self.expr(case.guard)
            self.block(case.body)

    def s_test(self, node: ast.If | ast.While) -> None:
        self.expr(node.test)
        self.block(node.body)
        self.block(node.orelse)

    def s_nothing(self, node: ast.AST) -> None:
        pass

    def target(self, node: ast.AST) -> None:
        t = type(node)
        if t is ast.Name:
            self.define(node.id)  # type: ignore[attr-defined]
            return
        if t is ast.Tuple or t is ast.List:
            for elt in node.elts:  # type: ignore[attr-defined]
                self.target(elt)
            return
        if t is ast.Starred:
            self.target(node.value)  # type: ignore[attr-defined]
            return
        self.expr(node)  # x.attr = ... / x[i] = ... read x (and i)

    # ------------------------------------------------------------ expressions evaluated now
    def expr(self, node: ast.AST, local: frozenset[str] = _EMPTY) -> None:
        t = type(node)
        if t is ast.Constant:
            return
        if t is _Name:
            if type(node.ctx) is _Load and node.id not in local:  # type: ignore[attr-defined]
                self.read(node.id)  # type: ignore[attr-defined]
            return
        stack: list[ast.AST | None] = [node]
        pop, push, extend = stack.pop, stack.append, stack.extend
        walk = _WALK
        defined, reads = self.defined, self.reads
        while stack:
            n = pop()
            if n is None:
                continue
            t = type(n)
            if t is _Name:
                if type(n.ctx) is _Load:  # type: ignore[attr-defined]
                    name = n.id  # type: ignore[attr-defined]
                    if name not in local and name not in defined and name not in reads:
                        self.read(name)
                continue
            how = walk.get(t)
            if how is None:
                how = walk[t] = tuple(reversed(_fields(t)))
            elif how.__class__ is not tuple:
                how(self, n, local)  # type: ignore[operator]
                continue
            for f in how:  # type: ignore[union-attr]
                v = getattr(n, f)
                if v is None:
                    continue
                if v.__class__ is list:
                    extend(reversed(v))
                else:
                    push(v)

    def e_namedexpr(self, node: ast.NamedExpr, local: frozenset[str]) -> None:
        self.expr(node.value, local)
        for name in _target_names(node.target):
            self.define(name)

    def e_lambda(self, node: ast.Lambda, local: frozenset[str]) -> None:
        for e in _signature_exprs(node):
            self.expr(e, local)
        self.scope(node, local)

    def e_comprehension(self, node: ast.AST, local: frozenset[str]) -> None:
        inner = set(local)
        for i, gen in enumerate(node.generators):  # type: ignore[attr-defined]
            # the first iterable is evaluated in the enclosing scope
            self.expr(gen.iter, frozenset(inner) if i else local)
            inner.update(_target_names(gen.target))
            frozen = frozenset(inner)
            for cond in gen.ifs:
                self.expr(cond, frozen)
        frozen = frozenset(inner)
        if isinstance(node, ast.DictComp):
            self.expr(node.key, frozen)
            self.expr(node.value, frozen)
        else:
            self.expr(node.elt, frozen)  # type: ignore[attr-defined]

    # ------------------------------------------------------------ class bodies (run now)
    def class_body(self, node: ast.ClassDef) -> None:
        own, loads, nested, declared = _collect_scope(node.body)
        for name in declared:
            self.define(name)
        for name in loads:
            if name not in own or name in declared:
                self.read(name)
        # methods see the module, not the class namespace
        for child in nested:
            self.nested_scope(child, _EMPTY, deferred=True)

    # ------------------------------------------------------------ deferred scopes (function bodies)
    def scope(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, enclosing: frozenset[str]
    ) -> None:
        body: list[ast.AST] = list(node.body) if isinstance(node.body, list) else [node.body]
        own, loads, nested, declared = _collect_scope(body)
        own.update(_arg_names(node.args))
        for name in declared:
            self.define(name)
            own.discard(name)
        visible = enclosing | own
        deferred = self.deferred
        for name in loads:
            if name not in visible:
                deferred[name] = None
        for child in nested:
            self.nested_scope(child, visible, deferred=True)

    def nested_scope(self, node: ast.AST, visible: frozenset[str], deferred: bool) -> None:
        if isinstance(node, (*_FUNCS, ast.Lambda)):
            self.scope(node, visible)
        elif isinstance(node, ast.ClassDef):
            own, loads, nested, declared = _collect_scope(node.body)
            for name in declared:
                self.define(name)
            for name in loads:
                if name not in visible and (name not in own or name in declared):
                    self.deferred[name] = None
            for child in nested:
                self.nested_scope(child, visible, deferred=True)
        elif isinstance(node, _COMPREHENSIONS):
            own, loads, nested, _ = _collect_scope(_comprehension_parts(node))
            comp_visible = visible | own
            for name in loads:
                if name not in comp_visible:
                    self.deferred[name] = None
            for child in nested:
                self.nested_scope(child, comp_visible, deferred=True)

    def finish(self) -> CellNames:
        for name in self.deferred:
            if name not in self.ever_defined:
                self.read(name)
        return CellNames(
            tuple(self.defined), tuple(self.reads), tuple(self.deletes), tuple(self.builtins_read)
        )


def _collect_scope(body: Sequence[ast.AST]) -> tuple[set[str], list[str], list[ast.AST], set[str]]:
    """One pass over a function/class body: (names bound here, names loaded, inner scopes, globals).

    Inner scopes are not entered; what they evaluate where they stand (decorators, defaults,
    annotations, a comprehension's first iterable) is walked as part of this scope.
    """
    own: set[str] = set()
    loads: list[str] = []
    nested: list[ast.AST] = []
    declared: set[str] = set()
    stack: list[ast.AST | None] = list(reversed(body))
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        n = pop()
        if n is None:
            continue
        t = type(n)
        if t is _Name:
            if type(n.ctx) is _Load:  # type: ignore[attr-defined]
                loads.append(n.id)  # type: ignore[attr-defined]
            else:
                own.add(n.id)  # type: ignore[attr-defined]
            continue
        if t in _SCOPE_TYPES:
            if t is not ast.Lambda and t not in _COMPREHENSIONS:
                own.add(n.name)  # type: ignore[attr-defined]
            if t is ast.ClassDef:
                extend(n.decorator_list)  # type: ignore[attr-defined]
                extend(n.bases)  # type: ignore[attr-defined]
                extend(k.value for k in n.keywords)  # type: ignore[attr-defined]
            elif t in _COMPREHENSIONS:
                push(n.generators[0].iter)  # type: ignore[attr-defined]
            else:
                extend(_signature_exprs(n))  # type: ignore[arg-type]
            nested.append(n)
            continue
        if t is ast.Global:
            declared.update(n.names)  # type: ignore[attr-defined]
            continue
        if t is ast.Nonlocal:
            own.update(n.names)  # type: ignore[attr-defined]
            continue
        if t is ast.Import or t is ast.ImportFrom:
            own.update(a.asname or a.name.split(".")[0] for a in n.names if a.name != "*")  # type: ignore[attr-defined]
            continue
        if t is ast.ExceptHandler and n.name:  # type: ignore[attr-defined]
            own.add(n.name)  # type: ignore[attr-defined]
        elif t is ast.match_case:
            own.update(_pattern_captures(n.pattern))  # type: ignore[attr-defined]
        for f in reversed(_fields(t)):
            v = getattr(n, f)
            if v is None:
                continue
            if type(v) is list:
                extend(reversed(v))
            elif isinstance(v, ast.AST):
                push(v)
    # ``global x`` names are module names even where they are assigned; those assigned are defined
    return own - declared, loads, nested, declared & own


def _comprehension_parts(node: ast.AST) -> list[ast.AST]:
    """A comprehension's own scope: targets, later iterables, conditions, element(s)."""
    gens = node.generators  # type: ignore[attr-defined]
    parts: list[ast.AST] = [g.target for g in gens]
    parts += [g.iter for g in gens[1:]]
    parts += [cond for g in gens for cond in g.ifs]
    if isinstance(node, ast.DictComp):
        parts += [node.key, node.value]
    else:
        parts.append(node.elt)  # type: ignore[attr-defined]
    return parts


_SCOPE_TYPES = frozenset({*_FUNCS, ast.ClassDef, ast.Lambda, *_COMPREHENSIONS})

_STMT_HANDLERS = {
    ast.FunctionDef: _Walker.s_function,
    ast.AsyncFunctionDef: _Walker.s_function,
    ast.ClassDef: _Walker.s_class,
    ast.Assign: _Walker.s_assign,
    ast.AnnAssign: _Walker.s_annassign,
    ast.AugAssign: _Walker.s_augassign,
    ast.Import: _Walker.s_import,
    ast.ImportFrom: _Walker.s_import,
    ast.Delete: _Walker.s_delete,
    ast.For: _Walker.s_for,
    ast.AsyncFor: _Walker.s_for,
    ast.With: _Walker.s_with,
    ast.AsyncWith: _Walker.s_with,
    ast.Try: _Walker.s_try,
    ast.TryStar: _Walker.s_try,
    ast.Match: _Walker.s_match,
    ast.If: _Walker.s_test,
    ast.While: _Walker.s_test,
    ast.Global: _Walker.s_nothing,
    ast.Nonlocal: _Walker.s_nothing,
    ast.Pass: _Walker.s_nothing,
    ast.Break: _Walker.s_nothing,
    ast.Continue: _Walker.s_nothing,
}

_EXPR_SPECIAL = {
    ast.NamedExpr: _Walker.e_namedexpr,
    ast.Lambda: _Walker.e_lambda,
    ast.ListComp: _Walker.e_comprehension,
    ast.SetComp: _Walker.e_comprehension,
    ast.DictComp: _Walker.e_comprehension,
    ast.GeneratorExp: _Walker.e_comprehension,
}


#: Per expression type: a handler, or the fields to walk (reversed, so a stack visits them in order).
_WALK: dict[type, Any] = {**_EXPR_SPECIAL, ast.Constant: ()}


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
