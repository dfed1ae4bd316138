"""Django-Q2 entry points: thin wrappers that load by id and call one service."""

import logging

from generation import flight, retention

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
