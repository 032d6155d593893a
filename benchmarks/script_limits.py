"""What the per-script CPU and memory limits cost: the same model code three ways, one run.

``python -m benchmarks.script_limits``

- SpiffWorkflow's own ``PythonScriptEngine`` environment (plain ``exec``; the
  bare engine as its documentation sets it up),
- RestrictedPython's guards alone (what the service ran before the limits),
- the service's environment: RestrictedPython plus the budget's ticks and guards.

Scripts: a typical model script (a few assignments and a call), a loop over
1,000 items, and a gateway condition.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from RestrictedPython.compile import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from service.engine.scripting import ALLOWED_BUILTINS, RestrictedEnvironment

TYPICAL = (
    "needs_escalation = severity in ['high', 'very_high'] or danger_ongoing\n"
    "label = 'Nivå ' + str(len(measures))\n"
)
LOOP = "total = 0\nfor item in items:\n    total += item['n']\n"
CONDITION = "severity == 'high' and not danger_ongoing"


def _data() -> dict[str, Any]:
    return {
        "severity": "high",
        "danger_ongoing": False,
        "measures": ["police_report", "crisis_support"],
        "items": [{"n": i} for i in range(1000)],
    }


class GuardsOnly:
    """RestrictedPython's compile and guards without the budget: the earlier environment."""

    def _scope(self, context: dict[str, Any]) -> dict[str, Any]:
        return {
            "__builtins__": dict(ALLOWED_BUILTINS),
            "_getattr_": safer_getattr,
            "_getitem_": default_guarded_getitem,
            "_getiter_": default_guarded_getiter,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_inplacevar_": lambda op, a, b: a + b if op == "+=" else None,
            **context,
        }

    def __init__(self) -> None:
        self.cache: dict[str, Any] = {}

    def execute(self, script: str, context: dict[str, Any]) -> None:
        code = self.cache.get(script) or compile_restricted_exec(script).code
        self.cache[script] = code
        exec(code, self._scope(context))  # noqa: S102 - benchmark of restricted code

    def evaluate(self, expression: str, context: dict[str, Any]) -> Any:
        code = self.cache.get(expression) or compile_restricted_eval(expression).code
        self.cache[expression] = code
        return eval(code, self._scope(context))  # noqa: S307 - benchmark of restricted code


def _median_us(run: Callable[[], Any], repeat: int) -> float:
    for _ in range(min(repeat // 10, 200)):
        run()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def main() -> None:
    bare = TaskDataEnvironment()
    guards = GuardsOnly()
    limited = RestrictedEnvironment()
    rows = []
    for name, script, repeat in (
        ("typical script", TYPICAL, 5000),
        ("loop, 1,000 items", LOOP, 500),
    ):
        figures = [
            _median_us(lambda env=env, code=script: env.execute(code, _data()), repeat)  # type: ignore[misc]
            for env in (bare, guards, limited)
        ]
        rows.append((name, *figures))
    figures = [
        _median_us(lambda env=env: env.evaluate(CONDITION, _data()), 5000)  # type: ignore[misc]
        for env in (bare, guards, limited)
    ]
    rows.append(("gateway condition", *figures))
    print("| code | bare engine (exec) | RestrictedPython guards | + limits | limits vs bare |")
    print("|---|---|---|---|---|")
    for name, b, g, lim in rows:
        print(f"| {name} | {b:.1f} µs | {g:.1f} µs | {lim:.1f} µs | {lim / b:.1f}× |")


if __name__ == "__main__":
    main()
