"""Django-Q2 entry points; thin and safe to run twice (the run's lease decides who works)."""

import logging

from reviews import services

logger = logging.getLogger(__name__)


def execute_run(run_id: str) -> str:
    outcome = services.execute_run(run_id=run_id)
    logger.info("review run %s: %s", run_id, outcome)
    return outcome


def recover_runs() -> list[str]:
    """Scheduled every minute (migration 0003): runs whose worker died are queued again."""
    ids = services.recover_runs()
    if ids:
        logger.warning("review runs queued again after their lease ran out: %s", ids)
    return ids
