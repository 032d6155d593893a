"""The only texts notifications carry: what kind of thing waits, never what the case is about.

Message ids are English (translated through the catalog); e-mails are written
in Swedish by the worker, which has no request to choose a language from.
"""

from __future__ import annotations

from babel.support import NullTranslations, Translations

from service.errors import N_
from service.i18n import TRANSLATIONS_DIR

TOPICS: dict[str, str] = {
    "new_task": N_("You have a new task"),
    "task_assigned": N_("A task has been assigned to you"),
    "assessment_overdue": N_("An assessment has passed its deadline"),
    "support_overdue": N_("Support to an affected person has passed its deadline"),
    "alarm_not_acknowledged": N_("An alarm has not been acknowledged"),
    "danger_not_acknowledged": N_("A report of ongoing danger has not been acknowledged"),
    "conversation_tomorrow": N_("A security conversation is coming up"),
    "event_coming_up": N_("An engagement with a risk analysis is coming up"),
    "police_report_not_filed": N_("A police report has not been recorded as filed"),
    "measure_ends": N_("A protective measure has reached its end date"),
    "task_overdue": N_("A task has passed its deadline"),
}

EMAIL_BODY = N_(
    "%(headline)s in Trygg i uppdraget.\n\n"
    "Sign in to see it:\n%(link)s\n\n"
    "This message is sent automatically and says nothing about the case on purpose."
)


def is_topic(topic: str) -> bool:
    return topic in TOPICS


def swedish() -> NullTranslations:
    return Translations.load(str(TRANSLATIONS_DIR), ["sv"])


def headline(topic: str, translations: NullTranslations | None = None) -> str:
    text = TOPICS.get(topic, TOPICS["task_overdue"])
    return translations.gettext(text) if translations else text
