"""Django-Q2 entry points: thin wrappers that load by id and call one service."""

import logging

from generation import flight, retention, sweep

logger = logging.getLogger(__name__)


def run_claimed(generation_id: int, owner: str) -> None:
    flight.run_claimed(generation_id=generation_id, owner=owner)


def revalidate(generation_id: int, owner: str) -> None:
    flight.revalidate(generation_id=generation_id, owner=owner)


def purge() -> dict:
    """The maintenance job "maintenance: generation retention" (hourly, migrations 0004
    and 0007); safe to run twice."""
    report = retention.purge()
    logger.info(
        "generation retention: deleted %s chunks, %s logs, %s hit counters, %s generations",
        report.chunks_deleted,
        report.logs_deleted,
        report.hit_counters_deleted,
        report.generations_deleted,
    )
    return report.as_dict()


def close_expired_claims() -> dict:
    """Close expired claims and calls left without an outcome (scheduled every minute by
    migration 0009_claim_sweep_schedule); safe to run twice."""
    report = sweep.sweep_claims()
    if report.claims_interrupted or report.calls_closed_unknown:
        logger.warning(
            "generation sweep: %s expired claims interrupted, %s calls closed as unknown",
            report.claims_interrupted,
            report.calls_closed_unknown,
        )
    return report.as_dict()
