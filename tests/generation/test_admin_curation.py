"""The ledger and generations in the admin: the prompt version as a column and a
filter, the log's totals for exactly the rows the filter shows."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from generation.models import Generation, GenerationLog, GenerationStatus, Prompt
from generation.prompts import new_version_from
from tests.builders import make_company, make_prompt

pytestmark = pytest.mark.django_db


def log(*, prompt: Prompt | None, kind: str = "tip", cost: str = "0.001", **fields):
    return GenerationLog.objects.create(
        kind=kind,
        prompt=prompt,
        provider="openai",
        model="gpt-4o-mini",
        tokens_in=fields.pop("tokens_in", 100),
        tokens_out=fields.pop("tokens_out", 50),
        cost=Decimal(cost),
        attempts=fields.pop("attempts", 1),
        outcome=fields.pop("outcome", "success"),
        **fields,
    )


def generation(*, prompt: Prompt, scope: str) -> Generation:
    return Generation.objects.create(
        kind="tip",
        scope=scope,
        context_hash=f"{prompt.pk}-{scope}",
        prompt=prompt,
        status=GenerationStatus.COMPLETED,
        completed_at=timezone.now(),
    )


@pytest.fixture
def versions() -> tuple[Prompt, Prompt]:
    v1 = make_prompt(key="tip")
    return v1, new_version_from(prompt=v1)


@pytest.mark.parametrize("model", ["generationlog", "generation"])
def test_the_prompt_version_is_a_column_and_a_filter(admin_client, versions, model):
    v1, v2 = versions
    if model == "generationlog":
        mine, other = log(prompt=v1, origin="mine"), log(prompt=v2, origin="other")
    else:
        mine, other = generation(prompt=v1, scope="s:1"), generation(prompt=v2, scope="s:2")
    url = reverse(f"admin:generation_{model}_changelist")

    page = admin_client.get(url).content.decode()
    filtered = admin_client.get(url, {"prompt__id__exact": v1.pk})

    assert 'class="sortable column-prompt' in page or 'class="column-prompt' in page
    assert "tip v1" in page and "tip v2" in page
    assert f"?prompt__id__exact={v1.pk}" in page  # the filter offers the versions used
    shown = [row.pk for row in filtered.context["cl"].result_list]
    assert shown == [mine.pk]
    assert other.pk not in shown


def test_the_logs_totals_are_those_of_the_rows_the_filter_shows(admin_client, versions):
    v1, v2 = versions
    company = make_company()
    log(prompt=v1, cost="0.010000", tokens_in=1000, tokens_out=200, attempts=2)
    log(prompt=v1, cost="0.002500", tokens_in=300, tokens_out=0, outcome="failed")
    log(prompt=v2, cost="1.000000", tokens_in=9999, tokens_out=9999, company=company)
    log(prompt=None, kind="other", cost="2.000000")
    url = reverse("admin:generation_generationlog_changelist")

    response = admin_client.get(url, {"prompt__id__exact": v1.pk})
    everything = admin_client.get(url)

    totals = response.context["totals"]
    assert (totals.calls, totals.requests) == (2, 3)
    assert (totals.tokens_in, totals.tokens_out) == (1300, 200)
    assert totals.cost == Decimal("0.0125")
    assert 'data-total="cost">0.012500<' in response.content.decode()
    assert everything.context["totals"].cost == Decimal("3.0125")
    assert everything.context["totals"].calls == 4
    by_company = admin_client.get(url, {"company__id__exact": company.pk})
    assert by_company.context["totals"].cost == Decimal("1")


def test_the_log_list_keeps_to_a_few_columns_with_the_cost_among_them(admin_client, versions):
    log(prompt=versions[0])

    page = admin_client.get(reverse("admin:generation_generationlog_changelist"))

    headers = page.context["cl"].list_display
    assert "cost" in headers and len(headers) <= 6
