"""Errors the engine adapter raises, free of engine types so callers need not import them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EngineError(Exception):
    """Something went wrong while running a workflow."""

    def __init__(self, message: str, *, element_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element_id = element_id
        # The workflow the error happened in, when it is still consistent
        # enough to save (see ScriptError).
        self.handle: Any = None


class ScriptError(EngineError):
    """A script, condition or expression in the model failed or was refused.

    The workflow is left with the failing task in ERROR, so the case keeps
    everything that was submitted and can be retried once the model is fixed.
    """


class DefinitionError(Exception):
    """A BPMN document that cannot be deployed, with the element it concerns.

    message is English; template (an N_() msgid with %(name)s placeholders)
    and params, when given, let the web layer show it translated.
    """

    def __init__(
        self,
        message: str,
        *,
        element_id: str | None = None,
        template: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.element_id = element_id
        self.template = template
        self.params: dict[str, Any] = dict(params or {})

    @classmethod
    def of(cls, template: str, *, element_id: str | None = None, **params: Any) -> DefinitionError:
        """The error from an N_() template and its params; message is the English text."""
        return cls(template % params, element_id=element_id, template=template, params=params)

    def __str__(self) -> str:
        if self.element_id:
            return f"{self.element_id}: {self.message}"
        return self.message
