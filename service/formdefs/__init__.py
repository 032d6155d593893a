"""Declarative forms (forms/*.json): loading, server-side validation, rendering data.

Named ``formdefs`` so it is never confused with the top-level ``forms/`` folder.
"""

from service.formdefs.definition import FieldDef, FormDef, FormDefinitionError, load_form
from service.formdefs.validation import FieldError, SubmissionResult, validate_submission

__all__ = [
    "FieldDef",
    "FieldError",
    "FormDef",
    "FormDefinitionError",
    "SubmissionResult",
    "load_form",
    "validate_submission",
]
