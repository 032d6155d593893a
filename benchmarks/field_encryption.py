"""What field encryption costs on a typical incident: per save and per load of its state.

`python -m benchmarks.field_encryption [--database-url postgresql://…] [--repeat 2000]`

Builds a scratch database, takes an incident through the party office's
support, the security assessment and its closing (every answer of the
routine is then in the saved state), and times, for that state and for one
form's answers: encrypting and decrypting with the field key (Fernet:
AES-128-CBC + HMAC-SHA256) beside what the engine itself spends to save
(``Runner.dump``) and load (``Services.load_case``) the same case, and the
sizes before and after.
"""

from __future__ import annotations

import argparse
import platform
import sys

from sqlalchemy import select

from benchmarks.bulk import close_one_incident
from benchmarks.harness import prepared_services, scratch_database, timed
from service.cases.models import ProcessInstance
from service.crypto import cipher
from service.crypto.types import EncryptedJSON
from service.tasks.models import HumanTask


def run(database_url: str | None, repeat: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    with scratch_database(database_url) as url:
        services = prepared_services(url)
        try:
            case_id = close_one_incident(services)
            with services.db.sessions() as session:
                instance = session.get(ProcessInstance, case_id)
                assert instance is not None
                state = instance.state
                answers = session.scalar(
                    select(HumanTask.submitted_data).where(
                        HumanTask.instance_id == case_id, HumanTask.bpmn_id == "follow_up_close"
                    )
                )
                handle = services.load_case(instance)
                key = cipher()
                sealed = key.encrypt_text(state)
                column = EncryptedJSON()
                dialect = services.db.engine.dialect
                sealed_answers = column.process_bind_param(answers, dialect)

                encrypt = timed(lambda: key.encrypt_text(state), repeat)
                decrypt = timed(lambda: key.decrypt_text(sealed), repeat)
                json_in = timed(lambda: column.process_bind_param(answers, dialect), repeat)
                json_out = timed(
                    lambda: column.process_result_value(sealed_answers, dialect), repeat
                )
                dump = timed(lambda: services.runner.dump(handle), max(50, repeat // 20))
                load = timed(lambda: services.load_case(instance), max(50, repeat // 20))
        finally:
            services.db.engine.dispose()

    def us(ms: float) -> str:
        return f"{ms * 1000:.1f} µs"

    rows += [
        (
            "encrypt the state on save",
            us(encrypt.median),
            f"{encrypt.median / dump.median:.1%} of Runner.dump ({us(dump.median)})",
        ),
        (
            "decrypt the state on load",
            us(decrypt.median),
            f"{decrypt.median / load.median:.1%} of loading the case ({us(load.median)})",
        ),
        ("encrypt one form's answers (JSON)", us(json_in.median), f"p95 {us(json_in.p95)}"),
        ("decrypt one form's answers (JSON)", us(json_out.median), f"p95 {us(json_out.p95)}"),
        (
            "stored state size",
            f"{len(sealed) / 1024:.1f} KB",
            f"{len(state) / 1024:.1f} KB packed before encryption "
            f"(+{len(sealed) / len(state) - 1:.0%}: Fernet's base64 over the packed text)",
        ),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    rows = run(args.database_url, args.repeat)
    print(
        f"Field encryption, {platform.machine()}, CPython {platform.python_version()}, "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}"
    )
    print("| measurement | median | note |\n|---|---|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
