"""What a new password must be (NIST SP 800-63B §3.1.1.2, OWASP ASVS 4.0.3 V2.1).

Long enough (12 to 128 characters, counted after Unicode NFKC normalisation,
spaces and every printable character allowed), and not one an attacker tries
first: not the user name, not the public demo password, not one of the
30 000 most common passwords (zxcvbn's list, from leaked password sets, MIT
licence) nor such a password with digits or signs added before or after it,
and not one character repeated. No composition rules (a digit, a capital…):
they make passwords harder to remember, not harder to guess.

Problems are English message ids; the web layer and the CLI translate them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from itertools import pairwise

from sqlalchemy.orm import Session

from service.audit.service import record
from service.auth.passwords import hash_password
from service.errors import N_
from service.people.demo import DEMO_PASSWORD
from service.people.models import User

MIN_LENGTH = 12
MAX_LENGTH = 128

# The service's own name and the words a Stockholm user reaches for first.
CONTEXT_WORDS = (
    "trygg i uppdraget",
    "tryggiuppdraget",
    "trygguppdraget",
    "stockholm",
    "stockholmsstad",
    "stockholms stad",
    "lösenord",
    "losenord",
    "password",
    "sommar",
    "vinter",
    "hösten",
    "våren",
)
_AFFIXES = re.compile(r"^[\d\W_]+|[\d\W_]+$")


def normalise(password: str) -> str:
    """NFKC, as 800-63B asks: the same password typed on another keyboard still matches."""
    return unicodedata.normalize("NFKC", password)


@cache
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"]) | frozenset(CONTEXT_WORDS)


def _is_common(candidate: str) -> bool:
    folded = candidate.casefold()
    common = common_passwords()
    squeezed = folded.replace(" ", "")
    if folded in common or squeezed in common:
        return True
    # "Sommar2026!", "123456qwerty": a common word with digits and signs around it.
    core = _AFFIXES.sub("", squeezed)
    return len(core) < 4 or core in common or _is_sequence(squeezed)


def _is_sequence(text: str) -> bool:
    """One character repeated, or a run like 123456789012 or abcdefghijkl."""
    if len(set(text)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in pairwise(text)}
    return steps <= {1} or steps <= {-1}


def password_problems(
    password: str, username: str, display_name: str | None = None, allow_demo: bool = False
) -> list[str]:
    """Why ``password`` may not be used, as message ids; an empty list means it may."""
    value = normalise(password)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Cn") for ch in value):
        return [
            N_(
                "The password contains an invisible control character. Type it again "
                "without copying it from elsewhere."
            )
        ]
    if len(value) < MIN_LENGTH:
        return [
            N_(
                "The password is too short. Use at least 12 characters – a few words "
                "with spaces between them are easy to remember."
            )
        ]
    if len(value) > MAX_LENGTH:
        return [N_("The password is too long. Use at most 128 characters.")]
    problems = []
    folded = value.casefold()
    names = [username.strip().casefold()]
    if display_name:
        names += [part for part in display_name.casefold().split() if len(part) >= 3]
    if any(name and len(name) >= 3 and name in folded for name in names):
        problems.append(
            N_("The password contains your user name or your name. Choose one without them.")
        )
    if not allow_demo and folded == DEMO_PASSWORD.casefold():
        problems.append(
            N_("That is the demo accounts' password, which everyone can read. Choose your own.")
        )
    elif _is_common(value):
        problems.append(
            N_(
                "The password is one of the most common ones, which are tried first. "
                "Choose another, for example a few unrelated words."
            )
        )
    return problems


def set_password(
    session: Session, account: User, password: str, actor: User | None, how: str
) -> list[str]:
    """Give ``account`` a new password if the policy allows it, and sign it out everywhere.

    Every way a password is set (the account page, an administrator's
    command) comes through here. Returns the problems (nothing is changed
    when there are any).
    """
    problems = password_problems(password, account.username, account.display_name)
    if problems:
        return problems
    account.password_hash = hash_password(password)
    account.session_epoch = (account.session_epoch or 0) + 1
    record(session, actor, "password.changed", user=account.id, how=how)
    return []
