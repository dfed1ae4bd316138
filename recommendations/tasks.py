"""Django-Q2 entry points (scheduled by migration 0003); thin and safe to run twice."""

import logging

from recommendations import maintenance

logger = logging.getLogger(__name__)


def mark_stale() -> dict:
    report = maintenance.mark_stale()
    logger.info("recommendations: marked %s rows stale", report.stale_total)
    return report.as_dict()


def cleanup() -> dict:
    report = maintenance.cleanup()
    logger.info("recommendations: deleted %s context snapshots", report.snapshots_deleted)
    return report.as_dict()
