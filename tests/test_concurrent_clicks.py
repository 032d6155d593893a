"""Twenty people press "Klar – skicka" on one task at the same moment: one wins, the rest get 409."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.cases.models import ProcessInstance
from service.tasks.models import HumanTask
from tests import incident_data as answers
from tests.test_incident_routine import report_incident
from tests.web_client import Browser

Make = Callable[[str | None], Browser]
CLICKS = 20


def test_simultaneous_completions_of_one_task(browser: Make, session: Session) -> None:
    case_id = report_incident(browser("anna"))
    started = session.get(ProcessInstance, case_id)
    assert started is not None
    version_before = started.lock_version
    clients = [browser("sakerhet") for _ in range(CLICKS)]
    task_id = clients[0].inbox_tasks()["Bedöm händelsen"]
    tokens = [c.csrf_token(f"/tasks/{task_id}") for c in clients]
    barrier = threading.Barrier(CLICKS)
    statuses: list[int] = []
    lock = threading.Lock()

    def click(client: Browser, token: str) -> None:
        barrier.wait()
        response = client.client.post(
            f"/tasks/{task_id}", data={**answers.ASSESSMENT, "csrf_token": token}
        )
        body = response.get_data(as_text=True)
        assert "Traceback" not in body
        with lock:
            statuses.append(response.status_code)

    threads = [
        threading.Thread(target=click, args=(c, t)) for c, t in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(statuses) == Counter({302: 1, 409: CLICKS - 1}), statuses
    session.expire_all()
    done = session.scalars(select(HumanTask).where(HumanTask.id == task_id)).one()
    assert done.status == "completed"
    follow_ups = session.scalar(
        select(func.count(HumanTask.id)).where(
            HumanTask.instance_id == case_id, HumanTask.bpmn_id == "follow_up_close"
        )
    )
    assert follow_ups == 0, "party support is still open, so the case waits at the join"
    instance = session.get(ProcessInstance, case_id)
    assert instance is not None and instance.lock_version == version_before + 1, "exactly one save"
