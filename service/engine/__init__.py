"""The engine adapter: the only package that imports SpiffWorkflow.

Everything the rest of the service needs from the engine goes through
:mod:`service.engine.runtime` (start, load, act, save) and
:mod:`service.engine.parsing` (definitions). It knows nothing of Flask or the
database.
"""

from service.engine.errors import DefinitionError, EngineError, ScriptError
from service.engine.parsing import ParsedProcess, parse_process
from service.engine.runtime import ReadyTask, Runner, Step, StepStates, WorkflowHandle

__all__ = [
    "DefinitionError",
    "EngineError",
    "ParsedProcess",
    "ReadyTask",
    "Runner",
    "ScriptError",
    "Step",
    "StepStates",
    "WorkflowHandle",
    "parse_process",
]
