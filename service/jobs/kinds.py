"""Import every module that registers a job handler, so a worker knows them all."""

from service.notify import (
    email,  # noqa: F401 - registers notify.email
    service,  # noqa: F401 - registers notify.new_tasks
)
from service.retention import jobs  # noqa: F401 - registers retention.dispose
