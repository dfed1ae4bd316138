"""The content and journey serializers write their representation out by hand (the hot
reads); it must stay what their declared fields (the OpenAPI schema) render."""

import pytest
from django.utils import timezone
from rest_framework import serializers

from recommendations import selectors, services
from recommendations.serializers import (
    HealthSummarySerializer,
    InsightSerializer,
    JourneyDomainSerializer,
    RecommendationSerializer,
)
from tests.recommendations.builders import (
    make_health,
    make_insight,
    make_journey,
    make_recommendation,
)

pytestmark = pytest.mark.django_db


def by_fields(serializer: serializers.Serializer, obj) -> dict:
    """What DRF renders from the declared fields."""
    return dict(serializers.Serializer.to_representation(serializer, obj))


def assert_same(serializer_class, obj, **context):
    serializer = serializer_class(context=context)
    assert serializer.to_representation(obj) == by_fields(serializer, obj)
    assert list(serializer.to_representation(obj)) == list(by_fields(serializer, obj))


@pytest.fixture
def context(company):
    make_journey(domains=1, steps=2)
    return services.current_snapshot(company=company).context_hash


def test_recommendations_render_as_their_fields(company, context, steps):
    with_step = make_recommendation(
        company=company,
        context_hash=context,
        step=steps[0],
        started_at=timezone.now(),
        user_feedback={"rating": 4},
    )
    without_step = make_recommendation(company=company, context_hash="another context")
    without_step.was_fresh = True
    for rec in (with_step, without_step):
        assert_same(RecommendationSerializer, rec, context_hash=context)


def test_insights_render_as_their_fields(company, context, steps):
    of_domain = make_insight(company=company, context_hash=context, domain=steps[0].domain)
    of_step = make_insight(
        company=company, context_hash=context, domain=steps[1].domain, step=steps[1]
    )
    of_step.served_as_fallback = True
    for insight in (of_domain, of_step):
        assert_same(InsightSerializer, insight, context_hash=context)


def test_health_renders_as_its_fields(company, context):
    health = make_health(company=company, context_hash=context, last_presented_at=timezone.now())
    assert_same(HealthSummarySerializer, health, context_hash=context)


def test_the_journey_renders_as_its_fields(company, steps):
    services.update_step_progress(company=company, step=steps[0], status="completed")
    services.update_step_progress(company=company, step=steps[1], status="in_progress")
    for domain in selectors.journey_for(company=company):
        serializer = JourneyDomainSerializer()
        fields = by_fields(serializer, domain)
        fields["steps"] = [dict(step) for step in fields["steps"]]
        assert serializer.to_representation(domain) == fields
