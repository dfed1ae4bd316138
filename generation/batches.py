"""How every maintenance job changes many rows: by primary key, a batch at a time.

Matching ids are taken in pk order (keyset), `batch_size` at a time, and one
short statement (or one short transaction) is applied to each batch, so no lock is
held for long and every row is looked at once however many match. The statement
re-checks the condition, so a row that changed since it was selected stays as it
is. Used by generation's retention and by the recommendations' stale marking and
retention.
"""

from collections.abc import Callable

from django.db.models import Max, QuerySet

# Called with (task label, ids advanced, id-space total) after each batch.
Progress = Callable[[str, int, int], None]


def walk(
    candidates: QuerySet,
    apply: Callable[[list[int]], int],
    *,
    batch_size: int,
    label: str = "",
    progress: Progress | None = None,
) -> int:
    """Apply `apply(ids)` to the matching ids, a batch at a time in pk order; returns
    the sum of what it returned (the rows changed or deleted)."""
    total_ids = (candidates.model.objects.aggregate(m=Max("pk"))["m"] or 0) if progress else 0
    after, changed = 0, 0
    while True:
        ids = list(
            candidates.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        changed += apply(ids)
        if progress:
            progress(label, ids[-1] - after, total_ids)
        after = ids[-1]
        if len(ids) < batch_size:
            break
    if progress:
        progress(label, max(0, total_ids - after), total_ids)
    return changed


def delete_in_batches(
    old: QuerySet, *, batch_size: int, label: str = "", progress: Progress | None = None
) -> int:
    """Delete the rows of `old` a batch at a time (the condition re-checked in each
    DELETE); returns the rows deleted."""
    return walk(
        old,
        lambda ids: old.filter(pk__in=ids).delete()[0],
        batch_size=batch_size,
        label=label,
        progress=progress,
    )
