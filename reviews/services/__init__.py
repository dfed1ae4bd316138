"""Everything that writes review runs: keyword-only functions, each in its own transactions.

A run is created with its first RunEvent in one transaction (runs, revisions), then
executed by a worker (reviews.tasks.execute_run) that holds a lease on it
(execution: expand in proposal, review in personas, aggregate and complete in
decision); a run whose worker died is queued again (recovery). Every state change
is a RunEvent (events).
"""

from reviews.services.events import run_key
from reviews.services.execution import claim, execute_run
from reviews.services.personas import (
    active_personas,
    persona_inputs,
    persona_template_version,
    review_persona,
)
from reviews.services.proposal import proposal_diff
from reviews.services.recovery import recover_runs
from reviews.services.revisions import create_revision
from reviews.services.runs import RUN_LEASE, create_run, current_parameters, request_hash

__all__ = [
    "RUN_LEASE",
    "active_personas",
    "claim",
    "create_revision",
    "create_run",
    "current_parameters",
    "execute_run",
    "persona_inputs",
    "persona_template_version",
    "proposal_diff",
    "recover_runs",
    "request_hash",
    "review_persona",
    "run_key",
]
