"""CPU and memory limits for model code, per script or expression run.

RestrictedPython keeps model code away from the interpreter's insides, but not
from the machine: ``while True: pass`` or ``"x" * 10**10`` would hold a web
worker forever or exhaust its memory. The engine's step budget counts BPMN
steps, not what happens inside one script. So model code is compiled with
:class:`LimitingTransformer`, which adds a tick to every loop iteration and
function call and routes every operation that can make a large value through a
guard, and each run gets a :class:`ScriptBudget`:

- at most ``MAX_TICKS`` loop iterations and calls, and ``MAX_SECONDS`` of time;
- no single value larger than ``MAX_SIZE`` characters, items or (for
  integers) ``MAX_INT_BITS`` bits;
- at most ``MAX_ALLOCATED`` characters or items made by guarded operations
  in all (a million copies of a large text are as bad as one huge text).

Exceeding a limit raises :class:`ScriptError`, which the engine records on
the case like any other error in the model; the case keeps its last good state.
These are checks in the code, not operating-system limits: they work the same
in a threaded web server, a gunicorn worker and the background worker, and
cost a function call per iteration (measured in benchmarks/).
"""

from __future__ import annotations

import ast
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import safer_getattr
from RestrictedPython.transformer import RestrictingNodeTransformer

from service.engine.errors import ScriptError

MAX_TICKS = 1_000_000
MAX_SECONDS = 2.0
MAX_SIZE = 1_000_000
MAX_INT_BITS = 100_000
MAX_ALLOCATED = 10_000_000
_CHECK_EVERY = 256  # ticks between looks at the count and the clock


class ScriptBudget:
    __slots__ = ("allocated", "deadline", "ticks")

    def __init__(self) -> None:
        self.ticks = 0
        self.allocated = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % _CHECK_EVERY == 0:
            self.check()

    def check(self) -> None:
        if self.ticks > MAX_TICKS:
            raise ScriptError(
                f"The model's code ran more than {MAX_TICKS:,} loop rounds or calls in one "
                "script. Look for a loop that never ends."
            )
        if time.monotonic() > self.deadline:
            raise ScriptError(
                f"The model's code ran longer than {MAX_SECONDS:g} seconds in one script. "
                "Look for a loop that never ends or work that belongs outside the process."
            )

    def charge(self, size: int) -> None:
        if size > MAX_SIZE:
            raise ScriptError(
                f"The model's code made a value of {size:,} characters or items; "
                f"at most {MAX_SIZE:,} are allowed."
            )
        self.allocated += size
        if self.allocated > MAX_ALLOCATED:
            raise ScriptError(
                f"The model's code made more than {MAX_ALLOCATED:,} characters or items "
                "in one script."
            )


_BUDGET: ContextVar[ScriptBudget | None] = ContextVar("script_budget", default=None)


@contextmanager
def budgeted() -> Iterator[ScriptBudget]:
    """A fresh budget for one script or expression run."""
    budget = ScriptBudget()
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def _budget() -> ScriptBudget:
    budget = _BUDGET.get()
    if budget is None:  # model code outside budgeted(): a programming error of ours
        raise ScriptError("Model code ran without a budget")
    return budget


# -- what the transformer calls ------------------------------------------------------------


def tick(value: Any = None) -> Any:
    _budget().tick()
    return value


def _size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return 0
    try:
        return len(value)
    except TypeError:
        return 0


def expanded_size(value: Any, limit: int = MAX_SIZE) -> int:
    """How many items/characters ``value`` becomes when printed or serialized.

    Shared references count each time they appear (``x = [x, x]`` forty times
    is small in memory and enormous as text); the walk stops past ``limit``.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 1
        elif isinstance(item, dict):
            total += 1
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 1
            stack.extend(item)
        else:
            total += 1
        if total > limit:
            return total
    return total


def _check_printable(value: Any) -> None:
    if isinstance(value, list | tuple | dict | set | frozenset):
        _budget().charge(expanded_size(value))


def _check_int(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise ScriptError(
            f"The model's code made a number of about {bits:,} bits; at most "
            f"{MAX_INT_BITS:,} are allowed."
        )


_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d{4,})|%[-#0 +]*\d*\.(\*|\d{4,})")


def binop(op: str, left: Any, right: Any) -> Any:
    """``*``, ``**``, ``<<``, ``%`` and ``+``: refuse results that would be too large."""
    ints = isinstance(left, int) and isinstance(right, int)
    if op == "*":
        if ints:
            _check_int(abs(left).bit_length() + abs(right).bit_length())
        elif isinstance(right, int) and _size(left):
            _budget().charge(_size(left) * max(right, 0))
        elif isinstance(left, int) and _size(right):
            _budget().charge(_size(right) * max(left, 0))
        return operator.mul(left, right)
    if op == "**":
        if ints and right > 0 and abs(left) > 1:
            _check_int(right * abs(left).bit_length())
        return operator.pow(left, right)
    if op == "<<":
        if ints and right > 0:
            _check_int(abs(left).bit_length() + right)
        return operator.lshift(left, right)
    if op == "%":
        if isinstance(left, str | bytes):
            pattern = left if isinstance(left, str) else left.decode("latin-1")
            if _PERCENT_WIDTH.search(pattern):
                raise ScriptError(
                    "Widths and precisions over 999 (or '*') are not allowed in % formatting"
                )
            _check_printable(right)
        return operator.mod(left, right)
    if op == "+":
        if _size(left) and _size(right):
            _budget().charge(_size(left) + _size(right))
        return operator.add(left, right)
    raise ScriptError(f"Operator {op} is not allowed in scripts")


def formatted(value: Any) -> Any:
    """An f-string's ``{value}``: containers are printed in full, so they are measured first."""
    _check_printable(value)
    return value


def guarded_getiter(obj: Any) -> Iterator[Any]:
    budget = _budget()
    for item in default_guarded_getiter(obj):
        budget.ticks += 1  # budget.tick() inlined: this runs once per loop round
        if budget.ticks % _CHECK_EVERY == 0:
            budget.check()
        yield item


def guarded_getitem(obj: Any, index: Any) -> Any:
    result = default_guarded_getitem(obj, index)
    if isinstance(index, slice):
        _budget().charge(_size(result))
    return result


# Methods whose result size is not bounded by their input's: checked before the call.
def _padded(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(width: int, *args: Any) -> Any:
        if isinstance(width, int):
            _budget().charge(width)
        return method(width, *args)

    return call


def _replace(text: Any) -> Callable[..., Any]:
    def call(old: Any, new: Any, count: int = -1) -> Any:
        hits = text.count(old) if old else len(text) + 1
        if count >= 0:
            hits = min(hits, count)
        _budget().charge(len(text) + hits * max(len(new) - len(old), 0))
        return text.replace(old, new, count)

    return call


def _join(separator: Any) -> Callable[[Iterable[Any]], Any]:
    def call(items: Iterable[Any]) -> Any:
        parts = list(guarded_getiter(items))
        _budget().charge(sum(_size(p) for p in parts) + len(separator) * max(len(parts) - 1, 0))
        return separator.join(parts)

    return call


def _extend(target: list[Any]) -> Callable[[Iterable[Any]], None]:
    def call(items: Iterable[Any]) -> None:
        parts = list(guarded_getiter(items))
        _budget().charge(len(target) + len(parts))
        target.extend(parts)

    return call


def _charged(method: Callable[..., Any]) -> Callable[..., Any]:
    """Any other text method: its result is bounded by its input, but copies add up."""

    def call(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        _budget().charge(_size(result))
        return result

    return call


_PADDING = frozenset({"ljust", "rjust", "center", "zfill"})


def guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    attribute = safer_getattr(obj, name, default)  # type: ignore[no-untyped-call]
    if isinstance(obj, str | bytes):
        if name in _PADDING:
            return _padded(attribute)
        if name == "replace":
            return _replace(obj)
        if name == "join":
            return _join(obj)
        if name == "expandtabs":
            raise ScriptError("expandtabs is not available in model code")
        if callable(attribute):
            return _charged(attribute)
    if isinstance(obj, list) and name == "extend":
        return _extend(obj)
    return attribute


def _sized_builtin(build: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not isinstance(args[0], str | bytes | dict):
            args = (list(guarded_getiter(args[0])),)
        result = build(*args, **kwargs)
        _budget().charge(_size(result))
        return result

    return call


def limited_range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_SIZE:
        raise ScriptError(f"range() of {len(span):,} numbers; at most {MAX_SIZE:,} are allowed")
    return span


def limited_str(value: Any = "") -> str:
    _check_printable(value)
    return str(value)


# What replaces the plain built-ins and guards in the restricted globals.
LIMITED_BUILTINS: dict[str, Any] = {
    "range": limited_range,
    "str": limited_str,
    "list": _sized_builtin(list),
    "tuple": _sized_builtin(tuple),
    "set": _sized_builtin(set),
    "sorted": _sized_builtin(sorted),
}
LIMITED_GUARDS: dict[str, Any] = {
    "_tick_": tick,
    "_binop_": binop,
    "_fmt_": formatted,
    "_getiter_": guarded_getiter,
    "_getitem_": guarded_getitem,
    "_getattr_": guarded_getattr,
}


# -- the compiler's side -------------------------------------------------------------------

_GUARDED_OPS: dict[type[ast.operator], str] = {
    ast.Mult: "*",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.Mod: "%",
    ast.Add: "+",
}
_LARGE_SPEC = re.compile(r"\d{4,}")
_Node = TypeVar("_Node", bound=ast.AST)


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _located(new: _Node, like: ast.AST) -> _Node:
    """Give a node the source position of ``like`` (the compiler needs one on every node)."""
    return ast.fix_missing_locations(ast.copy_location(new, like))


def _tick_statement(like: ast.AST) -> ast.Expr:
    return _located(ast.Expr(value=_call("_tick_")), like)


class LimitingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the hooks the budget needs."""

    def visit_While(self, node: ast.While) -> ast.AST:
        visited = super().visit_While(node)
        assert isinstance(visited, ast.While)
        node = visited
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        visited = super().visit_FunctionDef(node)
        assert isinstance(visited, ast.FunctionDef)
        node = visited
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        visited = super().visit_Lambda(node)
        assert isinstance(visited, ast.Lambda)
        node = visited
        # `_tick_() or body`: the tick comes first, the body's value is the result.
        node.body = _located(
            ast.BoolOp(op=ast.Or(), values=[_call("_tick_"), node.body]), node.body
        )
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        visited = super().visit_BinOp(node)
        assert isinstance(visited, ast.BinOp)
        node = visited
        symbol = _GUARDED_OPS.get(type(node.op))
        if symbol is None:
            return node
        return _located(_call("_binop_", ast.Constant(value=symbol), node.left, node.right), node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        visited = super().visit_FormattedValue(node)
        assert isinstance(visited, ast.FormattedValue)
        node = visited
        spec = node.format_spec
        if spec is not None:
            parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if not all(isinstance(p, ast.Constant) for p in parts):
                self.error(node, "Format specifications must be written out, not computed.")
            elif any(_LARGE_SPEC.search(str(getattr(p, "value", ""))) for p in parts):
                self.error(node, "Widths and precisions over 999 are not allowed.")
        node.value = _located(_call("_fmt_", node.value), node.value)
        return node
