"""What is being generated right now for a company: the pages follow these over SSE."""

from django.db.models import QuerySet

from generation.models import IN_PROGRESS, Generation


def in_progress_for(*, company_id: int, kinds: tuple[str, ...]) -> QuerySet[Generation]:
    """The company's generations of these kinds that are pending or streaming, oldest
    first, with only what a page needs (no inputs, no result)."""
    return (
        Generation.objects.filter(company_id=company_id, kind__in=kinds, status__in=IN_PROGRESS)
        .only("pk", "kind", "status", "text", "created_at")
        .order_by("created_at", "pk")
    )
