"""Django-Q2 entry points of the recommendations' maintenance jobs (scheduled by
migrations 0003 and 0005); thin and safe to run twice."""

import logging

from recommendations import maintenance

logger = logging.getLogger(__name__)


def mark_stale() -> dict:
    report = maintenance.mark_stale()
    logger.info("recommendations stale marking: marked %s rows stale", report.stale_total)
    return report.as_dict()


def purge() -> dict:
    report = maintenance.purge()
    logger.info("recommendations retention: deleted %s context snapshots", report.snapshots_deleted)
    return report.as_dict()
