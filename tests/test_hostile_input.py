"""Hostile input, thrown by hypothesis at every form and at the JSON API.

Whatever arrives (wrong types, huge or control-character texts, non-choices,
keys the form never declared) is answered with field errors and a 4xx, never a
server error, and nothing is stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from service.cases.models import ProcessInstance
from service.formdefs import FieldDef, FieldError, FormDef, load_form, validate_submission
from service.formdefs.validation import CONTROL_CHARS
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
FORMS = Path(__file__).resolve().parent.parent / "forms"
FORM_FILES = sorted(FORMS.glob("*.json"))
KNOWN_CODES = frozenset(
    {
        "required",
        "choose",
        "invalid",
        "length",
        "range",
        "item_count",
        "not_a_choice",
        "bad_format",
        "control_chars",
        "unknown_field",
        "forbidden_key",
    }
)
PURE = settings(max_examples=60, deadline=None, derandomize=True)
OVER_HTTP = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROBLEM_JSON = "application/problem+json"

# -- hostile values --------------------------------------------------------------------

CONTROL = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"]
unicode_text = st.text(st.characters(codec="utf-8"), max_size=40)
control_text = st.builds(
    lambda before, char, after: before + char + after,
    st.text(max_size=10),
    st.sampled_from(CONTROL),
    st.text(max_size=10),
)
huge_text = st.builds(
    lambda char, size: char * size,
    st.sampled_from(["x", "å", "9", "\u200b", "😀", " "]),
    st.integers(min_value=4_000, max_value=20_000),
)
wrong_types = st.sampled_from(
    [
        "maybe",
        "kanske",
        "abc",
        "1.5",
        "1e9",
        "-1",
        "99999999999999999999",
        "9" * 5_000,
        "NaN",
        "null",
        "None",
        "[]",
        "{}",
        "true",
        "2026-02-31",
        "25:99",
        "not-an-email",
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "{{ 7*7 }}",
        "../../etc/passwd",
    ]
)
hostile_text = st.one_of(unicode_text, control_text, huge_text, wrong_types)
# Extra keys: forbidden ones (typename, underscores) and plainly unknown ones.
FORBIDDEN_KEYS = ["typename", "_x", "__class__", "_internal", "__proto__"]
UNKNOWN_KEYS = ["a[typename]", "typename[]", "extra_field", "constructor", "data.typename"]


def _is_forbidden(key: str) -> bool:
    return key == "typename" or key.startswith("_")


def _field_values(f: FieldDef) -> st.SearchStrategy[list[str]]:
    """What a browser (or an attacker) might post for ``f``: one to three texts."""
    sensible = ["yes", "no", ""]
    if f.enum is not None:
        sensible += [str(v) for v in f.enum]
    one = st.one_of(hostile_text, st.sampled_from(sensible))
    return st.lists(one, min_size=1, max_size=3)


@st.composite
def hostile_form(draw: st.DrawFn, form: FormDef) -> MultiDict[str, str]:
    items: list[tuple[str, str]] = []
    for f in form.fields:
        if draw(st.booleans()):
            items += [(f.name, v) for v in draw(_field_values(f))]
    for key in draw(st.lists(st.sampled_from(FORBIDDEN_KEYS + UNKNOWN_KEYS), max_size=3)):
        items.append((key, draw(hostile_text)))
    return MultiDict(items)


# -- 1. the validator, over every shipped form --------------------------------------------


@pytest.mark.parametrize("path", FORM_FILES, ids=lambda p: p.stem)
def test_the_validator_answers_hostile_input_with_field_errors(path: Path) -> None:
    form = load_form(json.loads(path.read_text()), expected_id=path.stem)
    choices = {"organisations": (1, 2, 3), "parties": (1, 2, 3)}

    @PURE
    @given(submitted=hostile_form(form))
    def check(submitted: MultiDict[str, str]) -> None:
        result = validate_submission(form, submitted, choices)
        assert all(isinstance(e, FieldError) for e in result.errors)
        unknown = {e.code for e in result.errors} - KNOWN_CODES
        assert not unknown, f"codes the web layer cannot name: {unknown} in {result.errors}"
        codes = {e.field: e.code for e in result.errors}
        for key in submitted.keys():  # noqa: SIM118 - a MultiDict
            if _is_forbidden(key):
                assert codes.get(key) == "forbidden_key", (key, result.errors)
            elif form.field(key) is None:
                assert codes.get(key) == "unknown_field", (key, result.errors)
        assert set(result.data) == form.names
        assert not any(_is_forbidden(k) for k in result.data)
        for f in form.fields:
            value = result.data[f.name]
            if value is None or f.name in codes:
                continue
            texts = value if isinstance(value, list) else [value]
            for text in texts:
                if isinstance(text, str):
                    assert not CONTROL_CHARS.search(text), (f.name, text)
                    if f.max_length is not None:
                        assert len(text) <= f.max_length, f.name
                if f.enum is not None:
                    assert text in f.enum, (f.name, text)

    check()


# -- 2. the web forms over HTTP ---------------------------------------------------------------


def _case_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count(ProcessInstance.id))) or 0


def _hostile_overrides(form_file: str) -> st.SearchStrategy[dict[str, Any]]:
    form = load_form(json.loads((FORMS / form_file).read_text()))
    names = [f.name for f in form.fields]
    field_values = st.dictionaries(
        st.sampled_from(names),
        st.one_of(hostile_text, st.lists(hostile_text, min_size=2, max_size=3)),
        min_size=1,
        max_size=3,
    )
    extra = st.dictionaries(
        st.sampled_from(FORBIDDEN_KEYS + UNKNOWN_KEYS), hostile_text, max_size=2
    )
    return st.builds(lambda a, b: {**a, **b}, field_values, extra)


@pytest.fixture
def anna(browser: Make) -> tuple[Browser, str]:
    official = browser("anna")
    return official, str(official.get("/report").location)


@OVER_HTTP
@given(overrides=_hostile_overrides("incident_report.json"))
def test_hostile_incident_reports_are_refused_and_nothing_is_stored(
    anna: tuple[Browser, str], session: Session, overrides: dict[str, Any]
) -> None:
    official, url = anna
    assert re.fullmatch(r"/start/incident/\d+", url), url
    before = _case_count(session)
    response = official.submit(url, answers.report(**overrides))
    assume(response.status_code != 302)  # hypothesis happened to write a valid report
    page = response.get_data(as_text=True)
    assert response.status_code == 400, (response.status_code, page[:2000])
    assert "Traceback" not in page
    assert "Det finns ett problem" in page
    assert _case_count(session) == before


class AssessmentTask:
    """An open 'Bedöm händelsen' task; a fresh incident is reported if one got done."""

    def __init__(self, browser: Make, session: Session) -> None:
        self.official = browser("anna")
        self.security = browser("sakerhet")
        self.session = session
        self.task_id: int | None = None
        self.case_id: int | None = None

    def open(self) -> tuple[int, int]:
        self.session.expire_all()
        task = self.session.get(HumanTask, self.task_id) if self.task_id else None
        if task is None or task.status != "open":
            self.case_id = report_incident(self.official)
            found = self.session.scalar(
                select(HumanTask.id).where(
                    HumanTask.instance_id == self.case_id,
                    HumanTask.bpmn_id == "security_assessment",
                    HumanTask.status == "open",
                )
            )
            assert found is not None
            self.task_id = found
        assert self.case_id is not None and self.task_id is not None
        return self.task_id, self.case_id

    def snapshot(self) -> tuple[str, int, str]:
        self.session.expire_all()
        task = self.session.get(HumanTask, self.task_id)
        instance = self.session.get(ProcessInstance, self.case_id)
        assert task is not None and instance is not None
        return task.status, instance.lock_version, instance.state


@pytest.fixture
def assessment(browser: Make, session: Session) -> AssessmentTask:
    return AssessmentTask(browser, session)


@OVER_HTTP
@given(overrides=_hostile_overrides("incident_assessment.json"))
def test_hostile_assessments_leave_the_task_open_and_the_case_unchanged(
    assessment: AssessmentTask, overrides: dict[str, Any]
) -> None:
    task_id, _ = assessment.open()
    before = assessment.snapshot()
    response = assessment.security.submit(f"/tasks/{task_id}", {**answers.ASSESSMENT, **overrides})
    assume(response.status_code != 302)  # valid by chance: the next example gets a new task
    page = response.get_data(as_text=True)
    assert response.status_code == 400, (response.status_code, page[:2000])
    assert "Traceback" not in page
    assert assessment.snapshot() == before
    assert before[0] == "open"


# -- 3. the JSON API ---------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["typename", "_x", "a", "severity"]), inner, max_size=3),
    ),
    max_leaves=8,
)
ASSESSMENT_KEYS = ["severity", "immediate_actions", "measures", "assessment_notes"]
json_answers = st.dictionaries(
    st.sampled_from(ASSESSMENT_KEYS + FORBIDDEN_KEYS + UNKNOWN_KEYS),
    json_values,
    min_size=1,
    max_size=5,
)


@pytest.fixture
def api_csrf(assessment: AssessmentTask) -> str:
    response = assessment.security.get("/api/v1/csrf-token")
    assert response.status_code == 200
    token: str = response.get_json()["csrf_token"]
    return token


@OVER_HTTP
@given(data=st.one_of(json_answers, json_answers, json_values))
def test_hostile_json_answers_are_a_400_problem_and_the_task_stays_open(
    assessment: AssessmentTask, api_csrf: str, data: Any
) -> None:
    task_id, _ = assessment.open()
    before = assessment.snapshot()
    response = assessment.security.client.post(
        f"/api/v1/tasks/{task_id}/completion",
        json={"data": data},
        headers={"X-CSRFToken": api_csrf},
    )
    assume(response.status_code != 200)  # valid by chance: the next example gets a new task
    body = response.get_data(as_text=True)
    assert response.status_code == 400, (response.status_code, body[:2000])
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert isinstance(problem.get("errors"), dict) and problem["errors"], problem
    assert "Traceback" not in body
    assert assessment.snapshot() == before
