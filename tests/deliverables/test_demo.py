import io

import pytest

from companies.services import create_api_user
from deliverables import demo
from deliverables.models import Deliverable, DeliverableStatus, Workspace


@pytest.mark.django_db
def test_the_demo_workspace_has_seventeen_completed_deliverables_and_loads_twice():
    create_api_user(username="demo", company_name="Acme Demo", role="admin")

    demo.load_demo(stdout=io.StringIO())
    demo.load_demo(stdout=io.StringIO())

    workspace = Workspace.objects.get(company__slug="acme-demo")
    deliverables = Deliverable.objects.filter(workspace=workspace)
    assert deliverables.count() == 17
    assert set(deliverables.values_list("status", flat=True)) == {DeliverableStatus.COMPLETED}
    assert all(d.content for d in deliverables)


@pytest.mark.django_db
def test_running_the_demo_again_adds_back_nothing_renamed_or_removed():
    create_api_user(username="demo", company_name="Acme Demo", role="admin")
    demo.load_demo(stdout=io.StringIO())
    first, second = Deliverable.objects.order_by("pk")[:2]
    Deliverable.objects.filter(pk=first.pk).update(title="Renamed by a member")
    Deliverable.objects.filter(pk=second.pk).delete()
    Workspace.objects.update(name="Renamed workspace")

    demo.load_demo(stdout=io.StringIO())

    assert Workspace.objects.count() == 1
    assert Deliverable.objects.count() == 16
