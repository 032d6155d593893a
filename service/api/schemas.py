"""The API's request and response bodies, as marshmallow schemas (and so in the OpenAPI document).

Request schemas refuse keys they do not declare and answer with the same
codes the form validator uses, so a client handles one vocabulary of errors.
Response schemas only dump: they are the document's promise of each answer.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

MAX_ID = 2**31 - 1  # PostgreSQL's integer: a larger id cannot exist, and must not reach SQL
PROCESS_ID_PATTERN = r"^[a-z][a-z0-9_]{0,99}$"

FIELD_TYPES = ("string", "integer", "boolean", "array")
TASK_STATUSES = ("open", "completed", "cancelled")
CASE_STATUSES = ("running", "completed", "error")
CODES: dict[str, str | list[Any] | dict[Any, Any]] = {
    "required": "required",
    "null": "invalid",
    "invalid": "invalid",
    "type": "invalid",
}


def _nullable_text(description: str) -> fields.String:
    return fields.String(required=True, allow_none=True, metadata={"description": description})


def _when(description: str, *, nullable: bool = False) -> fields.AwareDateTime:
    return fields.AwareDateTime(
        required=True, allow_none=nullable, metadata={"description": description}
    )


# -- requests ------------------------------------------------------------------------


class AnswersField(fields.Dict):
    """Form answers: field name → value (text, integer, boolean or list of texts)."""

    def __init__(self, description: str) -> None:
        super().__init__(
            keys=fields.String(),
            values=fields.Raw(allow_none=True),
            load_default=dict,
            error_messages={"invalid": "invalid"},
            metadata={"description": description},
        )


class StartCaseSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "unknown_field", "type": "invalid"}  # noqa: RUF012

    subject_person_id = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=MAX_ID, error="range"),
        error_messages=CODES,
        metadata={
            "description": "The person the case concerns (a person id). Left out, an official "
            "reports for themselves. Not given for a process that concerns nobody."
        },
    )
    data = AnswersField(
        "The answers to the process's start form (see start_form in GET /api/v1/processes)."
    )


class CompleteTaskSchema(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "unknown_field", "type": "invalid"}  # noqa: RUF012

    data = AnswersField("The answers to the task's form (see form in GET /api/v1/tasks/{id}).")


# -- forms -----------------------------------------------------------------------------


class ChoiceSchema(Schema):
    value = fields.Raw(required=True, metadata={"description": "The value to send."})
    label = fields.String(required=True, metadata={"description": "What a person reads."})


class ShowIfSchema(Schema):
    field = fields.String(required=True)
    values = fields.List(fields.Raw(), required=True)


class FormFieldSchema(Schema):
    name = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    widget = fields.String(required=True)
    label = fields.String(required=True)
    help = _nullable_text("Help text for the question.")
    required = fields.Boolean(
        required=True, metadata={"description": "Must be answered when the field is shown."}
    )
    enum = fields.List(fields.Raw(), required=True, allow_none=True)
    choices = fields.List(
        fields.Nested(ChoiceSchema),
        required=True,
        allow_none=True,
        metadata={
            "description": "The values allowed, with their labels (also for options_source)."
        },
    )
    options_source = _nullable_text('Where the choices come from: "organisations" or "parties".')
    min_length = fields.Integer(required=True, allow_none=True)
    max_length = fields.Integer(required=True, allow_none=True)
    minimum = fields.Integer(required=True, allow_none=True)
    maximum = fields.Integer(required=True, allow_none=True)
    min_items = fields.Integer(required=True, allow_none=True)
    max_items = fields.Integer(required=True, allow_none=True)
    format = _nullable_text("date, date-time, time or email.")
    show_if = fields.Nested(
        ShowIfSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Shown (and validated) only when that field has one of values."},
    )
    visible_to = fields.List(
        fields.String(),
        required=True,
        allow_none=True,
        metadata={"description": "Roles that may read the answer later (null: all who see it)."},
    )


class FormSchema(Schema):
    id = fields.String(required=True)
    title = fields.String(required=True)
    description = _nullable_text("What the form is for.")
    fields_ = fields.List(
        fields.Nested(FormFieldSchema), required=True, data_key="fields", attribute="fields"
    )


# -- processes -------------------------------------------------------------------------


class ProcessSchema(Schema):
    process_id = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    version = fields.Integer(required=True)
    needs_subject = fields.Boolean(
        required=True, metadata={"description": "A case is about a person (subject_person_id)."}
    )
    instructions = _nullable_text("Instructions for whoever starts it.")
    start_form = fields.Nested(FormSchema, required=True, allow_none=True)


class CaseCreatedSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "The new case's id."})
    process_id = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))
    danger_ongoing = fields.Boolean(
        required=True,
        metadata={"description": "The reporter is in danger now: tell them to call 112."},
    )


# -- tasks ----------------------------------------------------------------------------


class TaskSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    bpmn_id = fields.String(required=True, metadata={"description": "The step in the process."})
    role = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(TASK_STATUSES))
    case_id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    process_title = fields.String(required=True)
    created_at = _when("When the task was created.")
    due_at = _when("When it should be done.", nullable=True)
    completed_at = _when("When it was done.", nullable=True)
    assigned_to_me = fields.Boolean(required=True)
    assignee = _nullable_text("Who has the task (claimed or given it); null while nobody has.")
    claimed_at = _when("When the one who has it took it or was given it.", nullable=True)
    priority = fields.Integer(
        required=True,
        validate=validate.OneOf((1, 2, 3)),
        metadata={"description": "1 urgent (danger ongoing), 2 high (high risk), 3 normal."},
    )
    workable = fields.Boolean(
        required=True,
        metadata={"description": "Whether you may do it now (false while a colleague has it)."},
    )


class TaskDetailSchema(TaskSchema):
    instructions = _nullable_text("What to do, for the person doing it.")
    form = fields.Nested(FormSchema, required=True, allow_none=True)
    prefill = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        required=True,
        metadata={"description": "Answers the case already holds for this form's fields."},
    )


# -- cases ----------------------------------------------------------------------------


class SubjectSchema(Schema):
    id = fields.Integer(required=True)
    full_name = fields.String(required=True)
    party = _nullable_text("The party's short name.")


class WaitingTaskSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    due_at = _when("When it should be done.", nullable=True)
    workable = fields.Boolean(
        required=True, metadata={"description": "You may do it (GET /api/v1/tasks/{id})."}
    )


class LinkedCaseSchema(Schema):
    case_id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    title = fields.String(required=True)
    direction = fields.String(
        required=True,
        validate=validate.OneOf(("started", "started_by")),
        metadata={"description": "started: this case started it; started_by: it started this."},
    )
    visible = fields.Boolean(required=True, metadata={"description": "You may read it."})


class AnswerSchema(Schema):
    field = fields.String(required=True)
    label = fields.String(required=True)
    value = fields.Raw(required=True, metadata={"description": "As submitted."})
    text = fields.String(required=True, metadata={"description": "As a person reads it."})


class StepSchema(Schema):
    task_id = fields.Integer(required=True)
    bpmn_id = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    completed_at = _when("When it was done.", nullable=True)
    completed_by = _nullable_text("Who did it.")
    answers = fields.List(
        fields.Nested(AnswerSchema),
        required=True,
        metadata={"description": "Only the answers your roles may read."},
    )


class HistoryEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = _when("When.")
    actor = _nullable_text("Who (null: the system).")
    action = fields.String(required=True, metadata={"description": "e.g. case.started."})
    task = _nullable_text("The step it concerned.")


NOTE_LEVELS = ("case", "security_party", "security")


class CommentSchema(Schema):
    id = fields.Integer(required=True)
    at = _when("When it was written.")
    author = fields.String(required=True)
    visibility = fields.String(
        required=True,
        validate=validate.OneOf(NOTE_LEVELS),
        metadata={
            "description": "case: everyone in the case; security_party: the security "
            "department and the party office; security: the security department only."
        },
    )
    body = fields.String(required=True)


class AttachmentSchema(Schema):
    id = fields.Integer(required=True)
    at = _when("When it was added.")
    added_by = fields.String(required=True)
    visibility = fields.String(required=True, validate=validate.OneOf(NOTE_LEVELS))
    name = fields.String(required=True, metadata={"description": "The file's (cleaned) name."})
    media_type = fields.String(required=True, metadata={"description": "Detected from content."})
    size = fields.Integer(required=True, metadata={"description": "Bytes."})
    sha256 = fields.String(required=True)
    description = _nullable_text("What the file shows.")
    download = fields.String(
        required=True, metadata={"description": "Where to download it (signed in, audited)."}
    )


class CaseSchema(Schema):
    id = fields.Integer(required=True)
    process_id = fields.String(required=True)
    title = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "The process version."})
    status = fields.String(required=True, validate=validate.OneOf(CASE_STATUSES))
    subject = fields.Nested(SubjectSchema, required=True, allow_none=True)
    started_at = _when("When the case was started.")
    started_by = _nullable_text("Who started it (null: the system).")
    on_behalf = fields.Boolean(
        required=True, metadata={"description": "Started on behalf of the person concerned."}
    )
    completed_at = _when("When it was closed.", nullable=True)
    waiting = fields.List(fields.Nested(WaitingTaskSchema), required=True)
    links = fields.List(fields.Nested(LinkedCaseSchema), required=True)
    timeline = fields.List(
        fields.Nested(StepSchema), required=True, metadata={"description": "Completed steps."}
    )
    history = fields.List(
        fields.Nested(HistoryEntrySchema),
        required=True,
        metadata={"description": "The audit trail of the case."},
    )
    comments = fields.List(
        fields.Nested(CommentSchema),
        required=True,
        metadata={"description": "Only the comments your roles may read."},
    )
    attachments = fields.List(
        fields.Nested(AttachmentSchema),
        required=True,
        metadata={"description": "Only the files your roles may read."},
    )


# -- other ----------------------------------------------------------------------------


class CsrfTokenSchema(Schema):
    csrf_token = fields.String(
        required=True,
        metadata={"description": "Send it as X-CSRFToken with POSTs made with the session."},
    )


class AlarmAcceptedSchema(Schema):
    case_id = fields.Integer(required=True)
    alarm_known = fields.Boolean(
        required=True,
        metadata={
            "description": "The alarm is registered to an official (false: the TiB finds out)."
        },
    )
