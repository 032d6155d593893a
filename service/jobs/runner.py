"""Run due jobs, one per transaction; a failure is recorded and retried, never lost."""

from __future__ import annotations

import logging

from service.context import Services
from service.db import utcnow
from service.jobs.models import Job
from service.jobs.queue import HANDLERS, claim_due_job, record_failure, record_success
from service.logging_setup import bind
from service.metrics import observe_job_failure

log = logging.getLogger(__name__)


def run_due_jobs(services: Services, limit: int = 50) -> int:
    ran = 0
    while ran < limit:
        with services.db.sessions() as session:
            now = utcnow()
            job = claim_due_job(session, services.db.is_postgres, now)
            if job is None:
                return ran
            job_id, kind = job.id, job.kind
            error: Exception | None = None
            try:
                run = HANDLERS.get(kind)
                if run is None:
                    raise LookupError(f"no handler for job kind {kind!r}")
                with bind(job_id=job_id, kind=kind):
                    run(services, session, dict(job.payload))
                record_success(job, now)
                session.commit()
            except Exception as exc:  # every failure is the job's, recorded on it
                error = exc
            if error is not None:
                session.rollback()
                failed = session.get(Job, job_id)
                if failed is None:
                    return ran
                record_failure(failed, error, utcnow())
                session.commit()
                observe_job_failure(kind)
                # The error's type only: an SMTP refusal quotes the recipient's address.
                log.warning(
                    "job failed",
                    extra={
                        "job_id": job_id,
                        "kind": kind,
                        "attempts": failed.attempts,
                        "error_type": type(error).__name__,
                    },
                )
            ran += 1
    return ran
