"""The wake-up every writer of a display sends, for the workspace page's event stream.

Writers of a display (a display written, a failure, a claim given back) call
`display_changed()`: after their commit it wakes, through generation.events' hub,
every event stream of that workspace (deliverables.sse), in every process, and they
read the states again. A wake-up only says "look again": the rows are the truth.
"""

from django.db import transaction

from generation.events import notify


def workspace_key(workspace_id: int) -> str:
    """The hub key the event streams of a workspace wait on."""
    return f"workspace:{workspace_id}"


def display_changed(*, workspace_id: int) -> None:
    """Wake the workspace's event streams once the current transaction commits (at
    once outside one)."""
    transaction.on_commit(lambda: notify(workspace_key(workspace_id)))
