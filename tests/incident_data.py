"""Form answers for the incident routine, valid unless a test changes them."""

from __future__ import annotations

from typing import Any


def report(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "danger_ongoing": "no",
        "kind": "threat",
        "harm_occurred": "no",
        "event_type": "near_miss",
        "occurred_on": "2026-11-26",
        "occurred_time": "22:40",
        "location": "Utanför bostaden",
        "channel": "social_media",
        "description": "Ett hotfullt meddelande om beslutet i nämnden.",
        "exact_words": "Vi vet var du bor.",
        "perpetrator_known": "unknown",
        "tied_to_assignment": "yes",
        "police_contacted": "no",
        "in_committee_activity": "no",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


PARTY_SUPPORT = {
    "contact_made": "yes",
    "contacted_on": "2026-11-27",
    "insurance_informed": "yes",
    "report_ensured": "yes",
    "support_notes": "Ringde och pratade en stund.",
}

ASSESSMENT = {
    "severity": "high",
    "immediate_actions": "Kontakt med polisen.",
    "measures": ["police_report", "crisis_support"],
}

TIB_RESPONSE = {"official_reached": "yes", "police_called": "yes", "actions_taken": "Ringde 112."}

CLOSE = {
    "outcome": "Åtgärder vidtagna, ärendet avslutas.",
    "confirmed_kind": "threat",
    "reported_to_police": "yes",
    "official_informed": "yes",
    "party_office_informed": "yes",
}

COMMITTEE_REVIEW = {
    "committee_actions": "Extra värdar på nästa sammanträde.",
    "party_office_contacted": "yes",
}

PARTY_CLOSE = {
    "outcome": "Stöd givet, avslutat.",
    "reported_to_police": "no",
    "official_informed": "yes",
}

CRISIS_SUPPORT = {
    "crisis_support_offered": "yes",
    "crisis_support_accepted": "yes",
    "crisis_support_provider": "Företagshälsovården",
}
