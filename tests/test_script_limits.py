"""CPU and memory limits per script: runaway model code stops with a clear error, the service stays up.

Each hostile script is deployed in a process, run by the engine as a person
starts a case, and must leave the case in ``error`` with a message naming the
limit, with the process's earlier state kept, within a few seconds and without
the test process growing by more than a fraction of what the script asked for.
"""

from __future__ import annotations

import resource
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.cases.service import start_case
from service.context import Services
from service.engine import ScriptError
from service.engine.script_limits import MAX_SECONDS, MAX_SIZE
from service.engine.scripting import RestrictedEnvironment, check_code
from service.people.models import Person, User
from tests.probe import deploy_probe

RUNAWAY = {
    "endless while": ("x = 0\nwhile True:\n    x = x + 1", "loop rounds"),
    "endless while without body work": ("while True:\n    pass", "loop rounds"),
    "huge text": ("s = 'x' * 10**10", "characters or items"),
    "huge list": ("l = [0] * 10**9", "characters or items"),
    "huge power": ("n = 10**10**8", "bits"),
    "huge shift": ("n = 1 << 10**9", "bits"),
    "doubling text": ("s = 'ab'\nfor i in range(64):\n    s = s + s", "characters or items"),
    "doubling in place": ("s = 'ab'\nfor i in range(64):\n    s += s", "characters or items"),
    "replace amplification": (
        "s = 'a' * 1000\nfor i in range(5):\n    s = s.replace('a', s)",
        "characters or items",
    ),
    "padding": ("s = 'a'.ljust(10**10)", "characters or items"),
    "join of copies": ("s = 'a' * 900000\nt = ','.join([s for i in range(100)])", "characters"),
    "many copies": ("s = 'a' * 900000\nt = [s.upper() for i in range(100)]", "characters"),
    "huge range": ("l = list(range(10**12))", "range()"),
    "percent width": ("s = '%999999999s' % 'a'", "% formatting"),
    "shared references printed": (
        "x = []\nfor i in range(60):\n    x = [x, x]\ns = str(x)",
        "characters or items",
    ),
    "shared references left in task data": (
        "x = []\nfor i in range(60):\n    x = [x, x]\ntotal = 0",
        "task data must stay small",
    ),
    "recursion": ("def f(n):\n    return f(n + 1)\ny = f(0)", "recursion"),
    "lambda recursion": ("f = lambda g: g(g)\ny = f(f)", "recursion"),
    "slow nested loops": (
        "t = 0\nfor i in range(1000000):\n    for j in range(1000000):\n        t = t + 1",
        "loop rounds",
    ),
}


def _actors(session: Session) -> tuple[User, Person]:
    user = session.scalar(select(User).where(User.username == "sakerhet"))
    subject = session.scalar(select(Person).where(Person.full_name == "Anna Andersson"))
    assert user is not None and subject is not None
    return user, subject


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(("script", "says"), list(RUNAWAY.values()), ids=list(RUNAWAY))
def test_runaway_script_stops_the_case_with_a_clear_error(
    services: Services, session: Session, script: str, says: str
) -> None:
    deploy_probe(session, script=script)
    user, subject = _actors(session)
    peak_before = _rss_mib()
    started = time.monotonic()
    result = start_case(services, session, user, "engine_probe", subject, MultiDict())
    session.commit()
    took = time.monotonic() - started
    assert result.instance.status == "error"
    message = result.instance.error_message or ""
    assert says in message or (says == "recursion" and "recursion" in message.lower()), message
    # Generous bounds: these are not benchmarks, they say "stopped", not "fast".
    assert took < MAX_SECONDS * 10
    assert _rss_mib() - peak_before < 600, "the script was stopped before it took the memory"
    # The service is still there: the next case runs.
    deploy_probe(session, script="total = 1")
    again = start_case(services, session, user, "engine_probe", subject, MultiDict())
    session.commit()
    assert again.instance.status == "running"


def test_ordinary_scripts_are_unaffected() -> None:
    env = RestrictedEnvironment()
    context: dict[str, object] = {"items": [{"n": i, "name": f"x{i}"} for i in range(2000)]}
    env.execute(
        "total = 0\n"
        "for item in items:\n"
        "    total += item['n']\n"
        "names = sorted([i['name'] for i in items], key=lambda n: n[::-1])\n"
        'label = f"{total:>10}|{len(names):.2f}|{names[:2]}"\n'
        "text = ', '.join(names[:3]).upper() + '!' * 3\n"
        "big = 2 ** 64 * 3\n"
        "share = '%5.1f%%' % (100 * 3 / 7)\n"
        "def double(v):\n"
        "    return v * 2\n"
        "doubled = [double(v) for v in range(10)]\n"
        "i = 0\n"
        "while i < 100:\n"
        "    i += 1\n",
        context,
    )
    assert context["total"] == sum(range(2000))
    assert context["big"] == 2**64 * 3
    assert context["share"] == " 42.9%"
    assert context["doubled"] == [v * 2 for v in range(10)]
    assert context["i"] == 100
    assert str(context["label"]).startswith("   1999000|2000.00|")
    names = sorted((f"x{i}" for i in range(2000)), key=lambda n: n[::-1])
    assert context["text"] == ", ".join(names[:3]).upper() + "!!!"


def test_each_run_has_its_own_budget() -> None:
    env = RestrictedEnvironment()
    script = "t = 0\nfor i in range(600000):\n    t += 1"
    for _ in range(3):  # three runs of 600,000 rounds: each within its own budget
        context: dict[str, object] = {}
        env.execute(script, context)
        assert context["t"] == 600000


def test_a_value_just_under_the_size_limit_is_allowed() -> None:
    env = RestrictedEnvironment()
    context: dict[str, object] = {}
    env.execute(f"s = 'x' * {MAX_SIZE // 10}\nn = len(s)", context)
    assert context["n"] == MAX_SIZE // 10
    with pytest.raises(ScriptError, match="characters or items"):
        env.execute(f"s = 'x' * {MAX_SIZE + 1}", {})


def test_conditions_have_the_same_limits() -> None:
    env = RestrictedEnvironment()
    with pytest.raises(ScriptError, match="bits"):
        env.evaluate("10**10**8 > 1", {})
    with pytest.raises(ScriptError, match="characters or items"):
        env.evaluate("len('x' * 10**10) > 1", {})
    assert env.evaluate("len([i for i in range(1000)]) == 1000", {}) is True


@pytest.mark.parametrize(
    "code",
    ["s = f'{1:>999999999}'", "w = 9\ns = f'{1:>{w}}'"],
    ids=["huge width", "computed width"],
)
def test_dangerous_format_specs_are_refused_before_deploy(code: str) -> None:
    assert check_code(code, expression=False) is not None
