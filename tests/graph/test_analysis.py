"""Cell-code analysis: what a cell reads and defines, with Python's own scoping rules."""

from __future__ import annotations

import ast
import textwrap

import pytest

from agentcore_nb.graph.analysis import CellNames, analyze, defined_names


def names(code: str) -> CellNames:
    return analyze(textwrap.dedent(code))


def rd(code: str) -> tuple[set[str], set[str]]:
    """(reads, defines) as sets."""
    n = names(code)
    return set(n.reads), set(n.defines)


# ---------------------------------------------------------------- order of statements
def test_define_then_read_is_not_a_read():
    assert rd("x = 1\nprint(x)") == (set(), {"x"})


def test_read_then_define_is_a_read():
    n = names("print(x)\nx = 1")
    assert n.reads == ("x",) and n.defines == ("x",)


def test_reads_keep_first_appearance_order():
    assert names("c = a + b\nd = e(a)").reads == ("a", "b", "e")


def test_defines_keep_order():
    assert names("b = 1\na = 2\nc = 3").defines == ("b", "a", "c")


def test_assignment_value_is_evaluated_before_target():
    assert rd("x = x + 1") == ({"x"}, {"x"})


def test_multiple_and_chained_targets():
    assert rd("a = b = c") == ({"c"}, {"a", "b"})


def test_tuple_and_starred_unpacking():
    assert rd("a, (b, *c) = d") == ({"d"}, {"a", "b", "c"})


def test_attribute_and_subscript_targets_read_their_base():
    assert rd("obj.attr = 1\nitems[key] = val") == ({"obj", "items", "key", "val"}, set())


def test_subscript_inside_tuple_target():
    assert rd("a, d[k] = 1, 2") == ({"d", "k"}, {"a"})


def test_augmented_assignment_reads_and_defines():
    assert rd("total += step") == ({"total", "step"}, {"total"})


def test_augmented_assignment_after_local_definition_reads_nothing():
    assert rd("total = 0\ntotal += 1") == (set(), {"total"})


def test_augmented_assignment_on_subscript():
    assert rd("counts[k] += 1") == ({"counts", "k"}, set())


def test_annotated_assignment():
    assert rd("x: int = y") == ({"y"}, {"x"})
    assert rd("x: MyType") == ({"MyType"}, set())  # no value: nothing bound, annotation evaluated
    assert rd("obj.field: int = 3") == ({"obj"}, set())


# ---------------------------------------------------------------- imports
def test_imports():
    n = names("import os\nimport a.b.c\nimport numpy as np\nfrom x import y as z, w\nfrom m import *")
    assert n.defines == ("os", "a", "np", "z", "w")
    assert n.reads == ()


def test_import_then_use():
    assert rd("import json\njson.dumps(data)") == ({"data"}, {"json"})


# ---------------------------------------------------------------- del
def test_del_of_outside_name_reads_and_deletes():
    n = names("del x")
    assert n.reads == ("x",) and n.deletes == ("x",) and n.defines == ()


def test_del_of_own_name_leaves_defines():
    n = names("x = 1\ny = 2\ndel x")
    assert n.defines == ("y",) and n.deletes == ("x",) and n.reads == ()


def test_redefine_after_del():
    n = names("del x\nx = 2")
    assert n.defines == ("x",) and n.deletes == () and n.reads == ("x",)


def test_del_subscript_and_tuple():
    n = names("del d[k], (a, b)")
    assert set(n.reads) == {"d", "k", "a", "b"} and set(n.deletes) == {"a", "b"}


# ---------------------------------------------------------------- functions
def test_function_parameters_and_locals_stay_inside():
    n = names(
        """
        def f(a, *args, b=1, **kw):
            c = a + b
            return c + len(args) + len(kw)
        """
    )
    assert n.defines == ("f",) and n.reads == ()


def test_function_reads_globals():
    assert rd("def f(a):\n    return a + offset") == ({"offset"}, {"f"})


def test_function_global_defined_later_in_cell_is_not_a_read():
    assert rd("def f():\n    return y\ny = 1") == (set(), {"f", "y"})


def test_function_defaults_decorators_annotations_are_read_at_def_time():
    n = names(
        """
        @register(registry)
        def f(x: np.ndarray, y=default) -> Result:
            return x
        """
    )
    assert set(n.reads) == {"register", "registry", "np", "default", "Result"}
    assert n.defines == ("f",)


def test_default_evaluated_before_later_definition():
    assert rd("def f(x=y):\n    return x\ny = 2") == ({"y"}, {"f", "y"})


def test_recursive_function_does_not_read_itself():
    assert rd("def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)") == (set(), {"fact"})


def test_global_declaration_defines_the_name():
    n = names(
        """
        def setup():
            global config
            config = load()
        """
    )
    assert set(n.defines) == {"setup", "config"} and n.reads == ("load",)


def test_global_declaration_only_read():
    assert rd("def f():\n    global g\n    return g") == ({"g"}, {"f"})


def test_nested_functions_and_closures():
    n = names(
        """
        def outer(a):
            b = 2
            def inner(c):
                nonlocal b
                b += 1
                return a + b + c + free
            return inner
        """
    )
    assert n.reads == ("free",) and n.defines == ("outer",)


def test_local_shadowing_global_is_not_a_read():
    assert rd("def f():\n    x = 1\n    return x") == (set(), {"f"})


def test_local_import_in_function():
    assert rd("def f():\n    import os\n    return os.getcwd()") == (set(), {"f"})


def test_except_name_and_match_capture_inside_function():
    n = names(
        """
        def f(v):
            try:
                g()
            except E as err:
                return err
            match v:
                case [first, *rest]:
                    return first, rest
        """
    )
    assert set(n.reads) == {"g", "E"}


def test_async_function():
    assert rd("async def f():\n    await helper()") == ({"helper"}, {"f"})


# ---------------------------------------------------------------- lambdas
def test_lambda_parameters_are_local():
    assert rd("f = lambda x, y=z: x + y + w") == ({"z", "w"}, {"f"})


def test_lambda_inside_comprehension_sees_comprehension_variable():
    assert rd("fs = [lambda: i * k for i in range(3)]") == ({"k"}, {"fs"})


def test_lambda_parameter_inside_comprehension_in_function():
    assert rd("def f(xs):\n    return [lambda y: y + x for x in xs]") == (set(), {"f"})


# ---------------------------------------------------------------- classes
def test_class_body_names_are_class_attributes():
    n = names(
        """
        class Model(Base, metaclass=Meta):
            size = 3
            scale = size * factor
            def forward(self, x):
                return x * self.size
        """
    )
    assert n.defines == ("Model",)
    assert set(n.reads) == {"Base", "Meta", "factor"}


def test_methods_do_not_see_class_names():
    # as in Python: ``size`` in the method is the global, not the class attribute
    assert rd("class A:\n    size = 1\n    def m(self):\n        return size") == ({"size"}, {"A"})


def test_class_decorator():
    assert rd("@dataclass\nclass P:\n    x: int = 0") == ({"dataclass"}, {"P"})


def test_class_inside_function():
    n = names(
        """
        def make():
            class Inner(Parent):
                a = 1
                def m(self):
                    return a
            return Inner
        """
    )
    assert set(n.reads) == {"Parent", "a"} and n.defines == ("make",)


# ---------------------------------------------------------------- comprehensions
def test_comprehension_variable_stays_inside():
    assert rd("ys = [x * 2 for x in xs]") == ({"xs"}, {"ys"})


def test_comprehension_variable_does_not_hide_outer_read_after():
    assert rd("ys = [x for x in xs]\nz = x") == ({"xs", "x"}, {"ys", "z"})


def test_nested_comprehension_scopes():
    assert rd("m = {k: [v * w for w in ws] for k, v in items if k not in skip}") == (
        {"ws", "items", "skip"},
        {"m"},
    )


def test_second_generator_may_use_first_target():
    assert rd("pairs = [(a, b) for a in A for b in a.children]") == ({"A"}, {"pairs"})


def test_generator_and_set_comprehensions():
    assert rd("s = sum(x for x in data)\nt = {y for y in other}") == ({"data", "other"}, {"s", "t"})


def test_walrus_in_comprehension_binds_outside():
    assert rd("vals = [y := f(x) for x in xs]\nlast = y") == ({"f", "xs"}, {"vals", "y", "last"})


def test_walrus_at_module_level():
    assert rd("if (n := len(a)) > 3:\n    print(n)") == ({"a"}, {"n"})


def test_comprehension_in_function_does_not_leak_targets():
    assert rd("def f():\n    return [i for i in range(3)] + [i]") == ({"i"}, {"f"})


# ---------------------------------------------------------------- control flow
def test_for_loop():
    assert rd("for i, item in enumerate(items):\n    acc.append(item)\nelse:\n    done = True") == (
        {"items", "acc"},
        {"i", "item", "done"},
    )


def test_while_and_if():
    assert rd("while cond():\n    if x:\n        y = 1\n    else:\n        z = 2") == (
        {"cond", "x"},
        {"y", "z"},
    )


def test_with_statement():
    assert rd("with open(path) as fh, lock:\n    text = fh.read()") == ({"path", "lock"}, {"fh", "text"})


def test_try_except_name_is_unbound_after_handler():
    n = names("try:\n    risky()\nexcept ValueError as e:\n    msg = str(e)\nfinally:\n    cleanup()")
    assert set(n.reads) == {"risky", "cleanup"}
    assert set(n.defines) == {"msg"}  # ``e`` is unbound after the handler, as in Python


def test_except_name_already_defined_stays_defined():
    assert rd("e = 1\ntry:\n    pass\nexcept Exception as e:\n    pass") == (set(), {"e"})


def test_try_star():
    assert rd("try:\n    f()\nexcept* KeyError as eg:\n    log(eg)") == ({"f", "log"}, set())


def test_match_statement():
    n = names(
        """
        match command:
            case Point(x=0, y=yy):
                out = yy
            case {"k": v, **rest}:
                out = (v, rest)
            case [a, *others] if a > limit:
                out = others
            case Color.RED:
                out = None
        """
    )
    assert set(n.reads) == {"command", "Point", "limit", "Color"}
    assert set(n.defines) == {"yy", "out", "v", "rest", "a", "others"}


# ---------------------------------------------------------------- builtins and misc
def test_builtins_are_not_reads_but_are_listed():
    n = names("n = len(items)\nprint(n)")
    assert n.reads == ("items",)
    assert set(n.builtins_read) == {"len", "print"}


def test_shadowed_builtin_is_a_define():
    n = names("input = 'hello'\nprint(input)")
    assert n.defines == ("input",) and "input" not in n.builtins_read


def test_fstrings_and_calls():
    assert rd('msg = f"{greeting}, {name!r:>{width}}"') == ({"greeting", "name", "width"}, {"msg"})


def test_starred_call_args_and_keywords():
    assert rd("r = f(*args, key=val, **opts)") == ({"f", "args", "val", "opts"}, {"r"})


def test_dict_unpacking_with_none_keys():
    assert rd("d = {**base, 'k': v}") == ({"base", "v"}, {"d"})


def test_expression_only_cell():
    assert names("1 + 1") == CellNames((), (), (), ())


def test_empty_cell():
    assert names("") == CellNames((), ())


def test_await_and_async_comprehension_at_top_level():
    tree = ast.parse("result = [x async for x in stream()]\nawait sink(result)", mode="exec")
    n = analyze(tree)
    assert set(n.reads) == {"stream", "sink"} and n.defines == ("result",)


def test_accepts_parsed_module():
    assert analyze(ast.parse("a = b")).reads == ("b",)


def test_syntax_error_raises_and_defined_names_is_empty():
    with pytest.raises(SyntaxError):
        analyze("x = = 1")
    assert defined_names("x = = 1") == ()
    assert defined_names("a = 1\ndef f(): pass") == ("a", "f")


def test_ipython_transformed_magic_reads_get_ipython():
    # what the kernel sees after IPython turns ``%time x = f()`` into Python
    n = names("get_ipython().run_line_magic('time', 'x = f()')")
    assert n.reads == ("get_ipython",)


def test_large_cell_analysis_is_complete():
    lines = []
    for i in range(200):
        lines.append(f"v{i} = v{i - 1} + {i}" if i else "v0 = start")
    n = names("\n".join(lines))
    assert n.reads == ("start",)
    assert len(n.defines) == 200
