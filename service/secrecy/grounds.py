"""The secrecy provisions a form field may be marked with (``"secret"`` in forms/*.json).

A closed list: a mark the list does not know is refused when the form is
loaded, so a misspelt reference can never leave a field unmasked on a
release. The references follow offentlighets- och sekretesslagen (2009:400);
their exact scope is for the city's lawyers to confirm (see README).
"""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import N_


@dataclass(frozen=True)
class SecrecyGround:
    reference: str  # as written in forms/*.json and on the printout, e.g. "OSL 18 kap. 8 §"
    subject: str  # what the provision protects (an English msgid; Swedish on the page)
    # Whether the provision protects the person the case is about. Such secrecy
    # does not apply against that person (OSL 12 kap. 1 §), so their own data is
    # given to them on a subject access request; other grounds are marked for review.
    protects_subject: bool


GROUNDS: dict[str, SecrecyGround] = {
    ground.reference: ground
    for ground in (
        SecrecyGround(
            "OSL 18 kap. 8 §",
            N_(
                "security or guarding measures (alarms, perimeter protection, guarding, threat analyses)"
            ),
            protects_subject=False,
        ),
        SecrecyGround(
            "OSL 21 kap. 1 §",
            N_("an individual's health (injuries, crisis support)"),
            protects_subject=True,
        ),
        SecrecyGround(
            "OSL 21 kap. 3 §",
            N_(
                "an individual's home address or other details of where they live or can be reached"
            ),
            protects_subject=True,
        ),
        SecrecyGround(
            "OSL 21 kap. 7 §",
            N_(
                "personal data about others (perpetrators, witnesses) that would be processed in breach of the GDPR"
            ),
            protects_subject=False,
        ),
        SecrecyGround(
            "OSL 39 kap. 3 §",
            N_("an individual's personal circumstances in personnel matters"),
            protects_subject=True,
        ),
    )
}


def ground(reference: str) -> SecrecyGround | None:
    return GROUNDS.get(reference)
