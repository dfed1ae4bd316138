"""Small builders for deliverables tests."""

from django.db.models import F
from django.utils import timezone

from companies.models import Company
from deliverables.models import Deliverable, DeliverableStatus, TransformationStatus, Workspace
from deliverables.services import create_deliverable


def make_workspace(*, company: Company, name: str = "Launch") -> Workspace:
    return Workspace.objects.create(company=company, name=name)


def make_deliverables(
    *, workspace: Workspace, count: int, status: str = DeliverableStatus.COMPLETED
) -> list[Deliverable]:
    return [
        create_deliverable(
            workspace=workspace,
            title=f"Deliverable {n}",
            content={"summary": f"Findings number {n}", "points": [f"point {n}a", f"point {n}b"]},
            status=status,
        )
        for n in range(1, count + 1)
    ]


def give_current_displays(*, workspace: Workspace, html: str = "<p>Ready</p>") -> int:
    """Mark every deliverable of the workspace as already transformed (cached), by the
    active display prompt."""
    from generation.models import Prompt

    return Deliverable.objects.filter(workspace=workspace).update(
        display_content=html,
        display_source_hash=F("content_hash"),
        display_prompt=Prompt.objects.filter(key="deliverable-display", is_active=True).first(),
        content_transformation_status=TransformationStatus.SUCCESS,
        transformation_timestamp=timezone.now(),
        auto_display_generated=True,
    )


def list_url(workspace: Workspace) -> str:
    return f"/api/workspaces/{workspace.pk}/deliverables/"


def mark_queued(*deliverables: Deliverable, minutes: float = 5) -> None:
    """As a queued transform leaves them: pending, its claim running for `minutes`
    (no task is really queued: nothing makes their display unless the test does)."""
    Deliverable.objects.filter(pk__in=[d.pk for d in deliverables]).update(
        content_transformation_status=TransformationStatus.PENDING,
        transform_lease_expires_at=timezone.now() + timezone.timedelta(minutes=minutes),
    )
