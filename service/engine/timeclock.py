"""Route SpiffWorkflow's timer arithmetic through the service clock.

SpiffWorkflow's timer module calls ``datetime.now(timezone.utc)`` directly
(when a timer is reached and when it checks whether one is due). Replacing
that module's ``datetime`` name with a subclass whose ``now`` asks
:func:`service.clock.now` gives the engine the same injectable clock as the
rest of the service, with no change to the library.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer_module

from service import clock


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _ClockDatetime:
        return cls.fromtimestamp(clock.now().timestamp(), tz)


def install() -> None:
    if _timer_module.datetime is not _ClockDatetime:
        _timer_module.datetime = _ClockDatetime
