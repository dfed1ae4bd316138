"""core.prepared: a queryset compiled once gives what the queryset gives, with each
call's values, through a statement PostgreSQL prepares."""

import pytest
from django.db import connection
from django.db.models import Count, F
from django.test.utils import CaptureQueriesContext

from companies.models import Membership
from core.prepared import Const, JoinedQuery, PreparedQuery, PreparedSQL, Tail
from recommendations.models import JourneyDomain, JourneyStep
from tests.builders import make_company, make_member
from tests.recommendations.builders import make_journey

pytestmark = pytest.mark.django_db

STEPS_OF_DOMAIN = PreparedQuery(
    lambda domain_id, slug: (
        JourneyStep.objects.select_related("domain")
        .filter(domain_id=domain_id)
        .exclude(slug=slug)
        .annotate(domain_order=F("domain__order"), twice=F("order") * 2)
    ),
    domain_id=int,
    slug=str,
)


def fields_of(step: JourneyStep) -> tuple:
    return (step.pk, step.slug, step.order, step.domain.pk, step.domain.name)


def test_prepared_rows_equal_the_querysets_with_each_calls_values():
    steps = make_journey(domains=2, steps=3)
    for domain in {s.domain for s in steps}:
        expected = list(
            JourneyStep.objects.select_related("domain")
            .filter(domain=domain)
            .exclude(slug="step-2")
        )
        got = STEPS_OF_DOMAIN(domain_id=domain.pk, slug="step-2")
        assert [fields_of(s) for s in got] == [fields_of(s) for s in expected]
        assert len(got) == 2
        assert [s.twice for s in got] == [s.order * 2 for s in expected]
        assert {s.domain_order for s in got} == {domain.order}


def test_related_rows_come_with_the_row_without_a_query():
    step = make_journey(domains=1, steps=1)[0]
    [got] = STEPS_OF_DOMAIN(domain_id=step.domain_id, slug="none")
    with CaptureQueriesContext(connection) as ctx:
        assert got.domain.slug == step.domain.slug
    assert len(ctx.captured_queries) == 0


def test_the_query_log_shows_the_statement_with_its_values():
    step = make_journey(domains=1, steps=1)[0]
    with CaptureQueriesContext(connection) as ctx:
        STEPS_OF_DOMAIN(domain_id=step.domain_id, slug="a-slug-to-find")
    [query] = ctx.captured_queries
    assert query["sql"].startswith("SELECT")
    assert "'a-slug-to-find'" in query["sql"]


def test_a_statement_run_several_times_is_prepared_on_the_server():
    step = make_journey(domains=1, steps=1)[0]
    for _ in range(6):  # psycopg prepares at the 5th run (DB_PREPARE_THRESHOLD)
        STEPS_OF_DOMAIN(domain_id=step.domain_id, slug="x")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%recommendations_journeystep%"],
        )
        assert cursor.fetchone()[0] >= 1


def test_a_shape_is_compiled_on_its_own():
    make_journey(domains=1, steps=4)
    first = PreparedQuery(
        lambda order, shape: JourneyStep.objects.filter(order__gte=order).order_by("id")[:shape],
        order=int,
    )
    assert len(first(order=0, shape=2)) == 2
    assert len(first(order=0, shape=3)) == 3
    assert len(first(order=3, shape=3)) == 1


def test_annotations_that_aggregate_come_back_on_the_instance():
    company = make_company()
    make_member(company=company)
    make_member(company=company)
    members = PreparedQuery(
        lambda company_id: (
            Membership.objects.filter(company_id=company_id)
            .select_related("company")
            .annotate(n=Count("company__memberships"))
            .order_by("id")
        ),
        company_id=int,
    )
    rows = members(company_id=company.pk)
    assert [r.n for r in rows] == [2, 2]
    assert members(company_id=company.pk + 1000) == []


def test_a_parameter_the_query_does_not_use_is_refused():
    unused = PreparedQuery(lambda slug: JourneyStep.objects.all(), slug=str)
    with pytest.raises(ValueError, match="slug"):
        unused(slug="x")


def test_only_int_and_str_parameters_are_prepared():
    with pytest.raises(TypeError):
        PreparedQuery(lambda ids: JourneyStep.objects.filter(pk__in=ids), ids=list)


def test_value_querysets_are_refused():
    values = PreparedQuery(lambda slug: JourneyStep.objects.filter(slug=slug).values(), slug=str)
    with pytest.raises(TypeError):
        values(slug="x")


def test_a_query_is_compiled_once_per_process_not_per_thread():
    import threading

    from django.db import connections

    builds = []

    def build(slug):
        builds.append(slug)
        return JourneyStep.objects.filter(slug=slug)

    query = PreparedQuery(build, slug=str)
    query(slug="x")

    def in_a_thread():
        try:
            query(slug="y")
        finally:
            connections.close_all()

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert len(builds) == 2  # the two placeholder compilations of the first call only


# --- JoinedQuery: a head row and the tail it guards in one statement ---------------------

DOMAIN_BY_SLUG = PreparedQuery(
    lambda slug: JourneyDomain.objects.filter(slug=slug).annotate(twice=F("order") * 2)[:1],
    slug=str,
)
STEPS_IN_ORDER = PreparedQuery(
    lambda domain_id, order, shape: (
        JourneyStep.objects.select_related("domain")
        .filter(domain_id=domain_id, order__gte=order)
        .order_by("-order", "-id")[:shape]
    ),
    domain_id=int,
    order=int,
)
DOMAIN_WITH_STEPS = JoinedQuery(DOMAIN_BY_SLUG, Tail(STEPS_IN_ORDER, domain_id="id"))


def test_a_joined_query_reads_the_head_and_the_tail_in_one_statement():
    steps = make_journey(domains=2, steps=4)
    domain = steps[0].domain
    with CaptureQueriesContext(connection) as ctx:
        [head], preloaded = DOMAIN_WITH_STEPS(slug=domain.slug, order=1, shapes=(3,))
    assert len(ctx.captured_queries) == 1
    assert (head.pk, head.twice) == (domain.pk, domain.order * 2)
    expected = STEPS_IN_ORDER(domain_id=domain.pk, order=1, shape=3)
    with CaptureQueriesContext(connection) as ctx:
        got = STEPS_IN_ORDER(domain_id=domain.pk, order=1, shape=3, preloaded=preloaded)
    assert len(ctx.captured_queries) == 0
    assert len(got) == 3
    assert [fields_of(s) for s in got] == [fields_of(s) for s in expected]  # the tail's order


def test_preloaded_rows_serve_one_call_with_exactly_their_values():
    domain = make_journey(domains=1, steps=3)[0].domain
    _, preloaded = DOMAIN_WITH_STEPS(slug=domain.slug, order=0, shapes=(5,))
    with CaptureQueriesContext(connection) as ctx:
        other = STEPS_IN_ORDER(domain_id=domain.pk, order=2, shape=5, preloaded=preloaded)
        wider = STEPS_IN_ORDER(domain_id=domain.pk, order=0, shape=9, preloaded=preloaded)
        used = STEPS_IN_ORDER(domain_id=domain.pk, order=0, shape=5, preloaded=preloaded)
        again = STEPS_IN_ORDER(domain_id=domain.pk, order=0, shape=5, preloaded=preloaded)
    # Other values or shape read again; the match is used once, then read again too
    # (what a read after generating content needs).
    assert len(ctx.captured_queries) == 3
    assert [len(other), len(wider), len(used), len(again)] == [1, 3, 3, 3]


def test_a_head_without_tail_rows_preloads_no_rows():
    domain = make_journey(domains=1, steps=2)[0].domain
    [head], preloaded = DOMAIN_WITH_STEPS(slug=domain.slug, order=99, shapes=(5,))
    assert head.pk == domain.pk
    with CaptureQueriesContext(connection) as ctx:
        assert STEPS_IN_ORDER(domain_id=domain.pk, order=99, shape=5, preloaded=preloaded) == []
    assert len(ctx.captured_queries) == 0


def test_no_head_row_means_nothing_read():
    make_journey(domains=1, steps=2)
    assert DOMAIN_WITH_STEPS(slug="no-such-domain", order=0, shapes=(5,)) == ([], None)


def test_a_joined_query_refuses_parameters_it_cannot_tell_apart():
    with pytest.raises(ValueError, match="no parameters"):
        Tail(STEPS_IN_ORDER, step_id="id")
    by_slug = PreparedQuery(lambda slug: JourneyStep.objects.filter(slug=slug), slug=str)
    with pytest.raises(ValueError, match="both take"):
        JoinedQuery(DOMAIN_BY_SLUG, Tail(by_slug))


def test_prepared_sql_rows_join_a_head_too():
    steps = make_journey(domains=1, steps=3)
    domain = steps[0].domain
    slugs = PreparedSQL(
        lambda conn: (
            "SELECT slug, %s AS mark FROM recommendations_journeystep "
            "WHERE domain_id = %s ORDER BY slug",
            ["slug", "mark"],
        ),
        Const("100%"),
        "domain_id",
    )
    expected = slugs(domain_id=domain.pk)
    assert expected == (["slug", "mark"], [(s.slug, "100%") for s in steps])
    [_], preloaded = JoinedQuery(DOMAIN_BY_SLUG, Tail(slugs, domain_id="id"))(slug=domain.slug)
    with CaptureQueriesContext(connection) as ctx:
        assert slugs(domain_id=domain.pk, preloaded=preloaded) == expected
    assert len(ctx.captured_queries) == 0


def test_several_tails_come_in_one_statement_each_in_its_order():
    steps = make_journey(domains=1, steps=3)
    domain = steps[0].domain
    first_steps = PreparedQuery(
        lambda domain_id: JourneyStep.objects.filter(domain_id=domain_id).order_by("id")[:1],
        domain_id=int,
    )
    nothing = PreparedQuery(
        lambda domain_id: JourneyStep.objects.filter(domain_id=domain_id, slug="no-such-step"),
        domain_id=int,
    )
    joined = JoinedQuery(
        DOMAIN_BY_SLUG,
        Tail(STEPS_IN_ORDER, domain_id="id"),
        Tail(nothing, domain_id="id"),
        Tail(first_steps, domain_id="id"),
    )
    with CaptureQueriesContext(connection) as ctx:
        [_], preloaded = joined(slug=domain.slug, order=0, shapes=(2,))
        descending = STEPS_IN_ORDER(domain_id=domain.pk, order=0, shape=2, preloaded=preloaded)
        empty = nothing(domain_id=domain.pk, preloaded=preloaded)
        first = first_steps(domain_id=domain.pk, preloaded=preloaded)
    assert len(ctx.captured_queries) == 1
    assert [s.pk for s in descending] == [steps[2].pk, steps[1].pk]
    assert (empty, [s.pk for s in first]) == ([], [steps[0].pk])
