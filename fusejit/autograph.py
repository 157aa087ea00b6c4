"""Automatic conversion of Python ``if`` statements on traced values (the AutoGraph idea, kept
small and predictable).

When tracing a function raises :class:`~fusejit.tracer.errors.ConcretizationError` (a traced
value used as a Python bool), the driver retraces it once through :func:`convert`: the function's
source is parsed and every convertible ``if`` statement becomes

    def __fj_then_<line>(a, b):  <body>;   return (a, b)
    def __fj_else_<line>(a, b):  <orelse>; return (a, b)
    a, b = __fj_if(<test>, __fj_then_<line>, __fj_else_<line>, <current a, b>, ("a", "b"), <line>)

where ``a, b`` are the names either branch assigns. ``__fj_if`` runs plain Python when the test
is concrete (only the chosen branch runs, exactly as before) and otherwise traces both branches
and selects with ``np.where`` (:func:`fusejit.control.cond`'s machinery, Variable updates
merged). Functions that trace fine are never converted.

Left as they are (and so still a ``ConcretizationError`` when their test is traced): ``if``
statements whose branches ``return``, ``break``, ``continue``, ``yield``, ``await``, declare
``global``/``nonlocal``, ``del`` or ``import``, or define functions or classes; ``while`` and
``for`` loops; ``and``/``or``; conditional expressions with ``:=`` or ``yield`` in a side (the
others become ``cond`` of two thunks); and code in lambdas, nested functions and functions the
jitted one calls (only the jitted function's own body is converted). A name assigned in only one
branch of a traced ``if`` (and not defined before it), or whose shape or dtype differs between
the branches, is an error naming the name and the line. The converted code keeps the file name
and line numbers of the source, so tracebacks point at the user's lines.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Callable
from typing import Any

from . import control
from .tracer.array import TracedArray
from .tracer.errors import TracingError


class _Undefined:
    """A name not bound before a converted ``if`` (``del``-ed again after it if still unbound)."""

    def __repr__(self) -> str:
        return "<unbound>"


UNDEFINED = _Undefined()
_BLOCKERS = (ast.Return, ast.Break, ast.Continue, ast.Yield, ast.YieldFrom, ast.Await, ast.Global, ast.Nonlocal,
             ast.Delete, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _generated(node: ast.AST) -> bool:
    """Code made by an inner conversion: its branch functions and ``del`` of unbound names."""
    return getattr(node, "_fj_generated", False)


def _walk_same_scope(nodes: list[ast.stmt]):
    """Every node of ``nodes`` not inside a lambda, a comprehension (their own scopes) or code an
    inner conversion generated (checked when it was made)."""
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if _generated(node):
            continue
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _convertible(node: ast.If) -> bool:
    return not any(isinstance(n, _BLOCKERS) for n in _walk_same_scope(node.body + node.orelse))


def _assigned(stmts: list[ast.stmt]) -> list[str]:
    names = {n.id for n in _walk_same_scope(stmts) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
             and not n.id.startswith("__fj_")}
    return sorted(names)


class _Rewriter(ast.NodeTransformer):
    def __init__(self, first_line: int) -> None:
        self.converted = 0
        self.offset = first_line - 1  # the parsed source starts at this line of its file

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if getattr(self, "_entered", False):
            return node  # nested functions are left alone
        self._entered = True
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        """``a if test else b`` -> ``__fj_ifexp(test, lambda: a, lambda: b, line)`` (only the chosen
        side runs when the test is concrete). Not when a side binds a name (``:=``) or yields:
        inside a lambda those would mean something else."""
        self.generic_visit(node)
        if any(isinstance(n, (ast.NamedExpr, ast.Yield, ast.YieldFrom, ast.Await))
               for side in (node.body, node.orelse) for n in ast.walk(side)):
            return node
        self.converted += 1

        def thunk(expr: ast.expr) -> ast.Lambda:
            args = ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[])
            return ast.copy_location(ast.Lambda(args=args, body=expr), expr)

        call = ast.Call(func=ast.Name("__fj_ifexp", ast.Load()),
                        args=[node.test, thunk(node.body), thunk(node.orelse),
                              ast.Constant(node.lineno + self.offset)], keywords=[])
        return ast.copy_location(call, node)

    def visit_If(self, node: ast.If) -> Any:
        self.generic_visit(node)  # inner ifs first: they become calls inside the branch functions
        if not _convertible(node):
            return node
        self.converted += 1
        line = node.lineno + self.offset
        names = _assigned(node.body + node.orelse)
        params = ", ".join(names)
        ret = f"return ({params}{',' if len(names) == 1 else ''})"
        then_name, else_name = f"__fj_then_{line}_{self.converted}", f"__fj_else_{line}_{self.converted}"
        stub = ast.parse(f"def {then_name}({params}):\n    pass\n    {ret}\n"
                         f"def {else_name}({params}):\n    pass\n    {ret}\n").body
        current = ", ".join(f"__fj_get(locals(), {n!r})" for n in names)
        tup = f"({current}{',' if len(names) == 1 else ''})"
        call = f"__fj_if(__fj_test, {then_name}, {else_name}, {tup}, {tuple(names)!r}, {line})"
        tail = ast.parse((f"({params}{',' if len(names) == 1 else ''}) = {call}\n" if names else f"{call}\n")
                         + "".join(f"if {n} is __fj_UNDEFINED:\n    del {n}\n" for n in names)).body
        test = ast.Assign(targets=[ast.Name("__fj_test", ast.Store())], value=node.test)
        for made in [*stub, *tail]:  # the generated lines carry the `if`'s line; the user's keep theirs
            for sub in ast.walk(made):
                if hasattr(sub, "lineno"):
                    ast.copy_location(sub, node)
        ast.copy_location(test, node)
        ast.copy_location(test.targets[0], node)
        stub[0].body[:1] = node.body
        stub[1].body[:1] = node.orelse or [ast.copy_location(ast.Pass(), node)]
        for made in [*stub, *tail[1:]]:
            made._fj_generated = True  # type: ignore[attr-defined]
        out = [test, *stub, *tail]
        return out


def _ifexp(test: Any, then: Callable[[], Any], orelse: Callable[[], Any], line: int) -> Any:
    if not isinstance(test, TracedArray):
        return then() if test else orelse()
    what = f"`... if ... else ...` at line {line} (converted: its test is a traced value)"
    return control.cond(control.condition(what, test), then, orelse)


def _get(scope: dict[str, Any], name: str) -> Any:
    return scope.get(name, UNDEFINED)


def _if(test: Any, then: Callable[..., tuple], orelse: Callable[..., tuple], values: tuple, names: tuple[str, ...],
        line: int) -> tuple:
    if not isinstance(test, TracedArray):
        return (then if test else orelse)(*values)
    what = f"`if` at line {line} (converted: its test is a traced value)"
    flag = control.condition(what, test)
    branches = [control._Branch(what, fn, values) for fn in (then, orelse)]
    for i, name in enumerate(names):
        got = [b.result[i] for b in branches]
        undefined = [g is UNDEFINED for g in got]
        if any(undefined) and not all(undefined):
            side = "true" if undefined[1] else "false"
            raise TracingError(f"{what}: {name!r} is assigned only in the {side} branch and not defined before "
                               "the `if`; assign it in both branches (or before the `if`)")
        if not any(undefined):
            control._same_signature(f"{what}: variable {name!r}", got[0], got[1], "the true branch", "the false branch")
            if _python_value(got[0]) and _python_value(got[1]) and got[0] != got[1]:
                raise TracingError(f"{what}: variable {name!r} is the Python value {got[0]!r} in the true branch and "
                                   f"{got[1]!r} in the false one; only arrays can be selected at run time "
                                   "(assign np.asarray(...) values to make it an array)")

    def select(pair: list[Any]) -> Any:
        import numpy as np

        return np.where(flag, pair[0], pair[1])

    control._merge_variables(branches, select)
    results = [tuple(None if v is UNDEFINED else v for v in b.result) for b in branches]
    out = control._select_trees(what, results, select, ["the true branch", "the false branch"])
    return tuple(UNDEFINED if got is UNDEFINED else v for got, v in zip(branches[0].result, out))


def _python_value(x: Any) -> bool:
    import numpy as np

    return not isinstance(x, (TracedArray, np.ndarray, np.generic)) and not isinstance(x, (tuple, list, dict))


def convert(fn: Callable[..., Any]) -> Callable[..., Any] | None:
    """``fn`` with its convertible ``if`` statements rewritten, or None when there are none or
    its source cannot be read (built-ins, lambdas defined inline with others, the REPL)."""
    if isinstance(fn, types.MethodType):
        inner = convert(fn.__func__)
        return None if inner is None else types.MethodType(inner, fn.__self__)
    if not isinstance(fn, types.FunctionType) or fn.__name__ == "<lambda>":
        return None
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        first = inspect.getsourcelines(fn)[1]
        filename = inspect.getsourcefile(fn) or "<fusejit-autograph>"
    except (OSError, TypeError):
        return None
    tree = ast.parse(source)
    if not tree.body or not isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    func = tree.body[0]
    func.decorator_list = []  # the jit decorator must not apply again
    rewriter = _Rewriter(first)
    rewriter.visit(func)
    if not rewriter.converted:
        return None
    freevars = list(fn.__code__.co_freevars)
    helpers = {"__fj_if": _if, "__fj_ifexp": _ifexp, "__fj_get": _get, "__fj_UNDEFINED": UNDEFINED}
    factory = ast.FunctionDef(name="__fj_factory", args=ast.arguments(
        posonlyargs=[], args=[ast.arg(a) for a in [*freevars, *helpers]], kwonlyargs=[], kw_defaults=[],
        defaults=[]), body=[func, ast.Return(ast.Name(func.name, ast.Load()))], decorator_list=[], returns=None)
    module = ast.Module(body=[factory], type_ignores=[])
    ast.fix_missing_locations(module)
    ast.increment_lineno(module, first - 1)
    code = compile(module, filename, "exec")
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(c for c in factory_code.co_consts if isinstance(c, types.CodeType) and c.co_name == fn.__name__)
    cells = dict(zip(freevars, fn.__closure__ or ()))
    cells.update({k: types.CellType(v) for k, v in helpers.items()})
    missing = [n for n in inner.co_freevars if n not in cells]
    if missing:
        return None
    new = types.FunctionType(inner, fn.__globals__, fn.__name__, fn.__defaults__,
                             tuple(cells[n] for n in inner.co_freevars))
    new.__kwdefaults__ = fn.__kwdefaults__
    new.__dict__.update(fn.__dict__)
    new.__qualname__, new.__module__, new.__doc__ = fn.__qualname__, fn.__module__, fn.__doc__
    new.__wrapped_by_fusejit_autograph__ = fn  # type: ignore[attr-defined]
    return new


__all__ = ["convert"]
