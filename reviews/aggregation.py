"""The decision, in plain code: weighted confidence and the blocking rule.

- overall weighted confidence = sum(weight * confidence) / sum(weight) over the
  personas that reviewed (rounded to 4 places);
- approve: no blocking issue and weighted confidence >= APPROVE_AT;
- revise: not approved and weighted confidence >= REVISE_AT;
- reject: weighted confidence below REVISE_AT.
Any blocking issue means not approved, whatever the confidence.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from reviews.lifecycle import Decision

APPROVE_AT = Decimal("0.80")
REVISE_AT = Decimal("0.60")
FOUR_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Vote:
    persona_key: str
    weight: Decimal
    confidence: Decimal
    blocking: bool
    security: bool


def decide(votes: list[Vote]) -> dict:
    total_weight = sum((v.weight for v in votes), Decimal(0))
    if total_weight > 0:
        weighted = sum((v.weight * v.confidence for v in votes), Decimal(0)) / total_weight
    else:
        weighted = Decimal(0)
    weighted = weighted.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    blocking = sorted(v.persona_key for v in votes if v.blocking)
    if not blocking and weighted >= APPROVE_AT:
        label = Decision.APPROVE
    elif weighted >= REVISE_AT:
        label = Decision.REVISE
    else:
        label = Decision.REJECT
    return {
        "label": str(label),
        "overall_weighted_confidence": str(weighted),
        "blocking_personas": blocking,
        "security_concern_personas": sorted(v.persona_key for v in votes if v.security),
        "thresholds": {"approve": str(APPROVE_AT), "revise": str(REVISE_AT)},
        "per_persona": {
            v.persona_key: {"weight": str(v.weight), "confidence": str(v.confidence)} for v in votes
        },
    }
