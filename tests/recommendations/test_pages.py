from django.test import Client
from django.urls import reverse

from generation.errors import ProviderError
from recommendations import services, views
from recommendations.lifecycle import Status
from recommendations.models import CompanyStepProgress, Recommendation
from tests.builders import run_queued_tasks
from tests.recommendations.builders import make_recommendation


def logged_in(member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def test_home_lists_only_my_companies(member, company, other_company):
    page = logged_in(member).get("/")

    assert page.status_code == 200
    assert company.name in page.text
    assert other_company.name not in page.text
    assert reverse("company-dashboard", args=[company.pk]) in page.text


def test_pages_need_a_login(company):
    response = Client().get(reverse("company-dashboard", args=[company.pk]))
    assert response.status_code == 302


def test_the_dashboard_never_waits_on_the_model_and_shows_what_is_being_written(
    member, company, steps, provider, open_page
):
    page = open_page(logged_in(member), reverse("company-dashboard", args=[company.pk]))

    assert page.status_code == 200
    assert provider.calls == 0  # nothing is made inside the request
    for section in ('id="journey"', 'id="recommendations"', 'id="insights"', 'id="health"'):
        assert section in page.text
    assert page.text.count("is being written") == 5  # 3 recommendations, insights, health
    assert page.text.count('data-events="/api/generations/') == 5

    assert run_queued_tasks() == 5  # the background work: one call each
    assert provider.calls == 5
    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk]))
    assert "is being written" not in page.text
    assert steps[0].domain.name in page.text
    assert 'class="badge offline"' in page.text
    assert Recommendation.objects.filter(status=Status.ACTIVE).count() == 3

    logged_in(member).get(reverse("company-dashboard", args=[company.pk]))
    assert provider.calls == 5


def test_a_page_request_makes_no_provider_call_whatever_is_missing(
    member, company, steps, provider, open_page
):
    client = logged_in(member)
    dashboard = reverse("company-dashboard", args=[company.pk])
    open_page(client, dashboard)
    run_queued_tasks()
    calls = provider.calls
    # Everything goes stale at once: a new context.
    services.update_step_progress(company=company, step=steps[0], status="completed")

    page = open_page(client, dashboard)

    assert page.status_code == 200
    assert provider.calls == calls
    assert "An earlier version, shown while a new one is being made." in page.text
    run_queued_tasks()
    assert provider.calls == calls + 5


def test_model_text_is_rendered_as_clean_markdown(member, company, steps, provider):
    context = services.current_snapshot(company=company).context_hash
    for step in steps[:3]:
        make_recommendation(
            company=company,
            context_hash=context,
            step=step,
            content={
                "title": "<b>Bold</b> move",
                "summary": "**Do** it <script>alert('x')</script>",
                "actions": ["<img src=x onerror=alert(1)>"],
            },
        )

    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk]))

    assert "<strong>Do</strong>" in page.text
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;b&gt;Bold&lt;/b&gt; move" in page.text


def test_content_of_an_earlier_context_is_labelled(member, company, steps, provider, open_page):
    make_recommendation(company=company, context_hash="0" * 64, step=steps[0])
    provider.fail_with = ProviderError("down", transient=False)
    client = logged_in(member)
    open_page(client, reverse("company-dashboard", args=[company.pk]))
    run_queued_tasks()  # the background calls fail

    page = client.get(reverse("company-dashboard", args=[company.pk]))

    assert page.status_code == 200
    assert "An earlier version, shown because the model is unavailable right now." in page.text
    assert "unavailable" in page.text  # the provider being down is said, not hidden
    assert "down" not in page.text.replace("dropdown", "")  # the provider's own text is not


def test_another_companys_dashboard_is_404(member, other_company, provider):
    response = logged_in(member).get(reverse("company-dashboard", args=[other_company.pk]))
    assert response.status_code == 404
    assert provider.calls == 0


def test_a_member_signs_in_on_the_projects_page_and_out_again(member, company):
    member.user.set_password("p")
    member.user.save()
    client = Client()

    page = client.get(reverse("company-dashboard", args=[company.pk]), follow=True)
    assert page.redirect_chain[-1][0].startswith(reverse("login"))
    assert "Django administration" not in page.text
    assert "Sign in" in page.text

    signed_in = client.post(
        reverse("login"),
        {"username": member.user.username, "password": "p", "next": "/"},
        follow=True,
    )
    assert company.name in signed_in.text
    assert 'id="admin-link"' not in signed_in.text  # not staff
    assert client.post(reverse("logout")).status_code == 302
    assert client.get("/").status_code == 302


def test_staff_see_the_admin_link(member):
    member.user.is_staff = True
    member.user.save()
    assert 'id="admin-link"' in logged_in(member).get("/").text


def test_a_member_of_several_companies_picks_one(member, company, other_company):
    from companies.models import Membership

    Membership.objects.create(user=member.user, company=other_company, role="viewer")
    client = logged_in(member)
    home = client.get("/")
    assert 'id="company-picker"' in home.text
    picked = client.get(reverse("company-pick"), {"company": other_company.pk})
    assert picked["Location"] == reverse("company-dashboard", args=[other_company.pk])


def test_the_dashboards_picker_lists_my_companies_by_name_with_this_one_selected(
    member, company, other_company, provider
):
    from companies.models import Company, Membership

    Membership.objects.create(user=member.user, company=other_company, role="viewer")
    stranger = Company.objects.create(name="AAA Not mine", slug="aaa-not-mine")
    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk])).text
    picker = page[page.index('id="nav-company"') : page.index("</select>")]
    names = sorted([company, other_company], key=lambda c: c.name)
    expected = "".join(
        f'<option value="{c.pk}"{" selected" if c == company else ""}>{c.name}</option>'
        for c in names
    )
    assert expected in picker
    assert stranger.name not in page


def test_the_picker_does_not_open_another_companys_dashboard(member, other_company):
    response = logged_in(member).get(reverse("company-pick"), {"company": other_company.pk})
    assert response.status_code == 404


def test_start_complete_and_feedback_without_javascript(
    member, company, steps, provider, open_page
):
    client = logged_in(member)
    dashboard = reverse("company-dashboard", args=[company.pk])
    open_page(client, dashboard)
    run_queued_tasks()
    client.get(dashboard)
    rec = Recommendation.objects.filter(company=company).order_by("pk").last()

    start = reverse("recommendation-action-page", args=[company.pk, rec.pk, "start"])
    response = client.post(start)
    assert response.status_code == 302
    assert response["Location"] == f"{dashboard}#rec-{rec.pk}"
    rec.refresh_from_db()
    assert rec.started_at is not None
    page = client.get(dashboard).text
    # The one in progress comes first, with a Complete control.
    assert page.index(f'id="rec-{rec.pk}"') < min(
        page.index(f'id="rec-{other.pk}"')
        for other in Recommendation.objects.filter(company=company).exclude(pk=rec.pk)
        if f'id="rec-{other.pk}"' in page
    )
    assert "In progress" in page

    complete = reverse("recommendation-action-page", args=[company.pk, rec.pk, "complete"])
    assert client.post(complete).status_code == 302
    rec.refresh_from_db()
    assert rec.status == Status.COMPLETED

    again = client.post(complete, follow=True)
    assert "cannot be completed now" in again.text  # an illegal transition, in words

    feedback = reverse("recommendation-feedback-page", args=[company.pk, rec.pk])
    assert (
        client.post(feedback, {"rating": "4", "helpful": "yes", "comment": "ok"}).status_code == 302
    )
    rec.refresh_from_db()
    assert rec.user_feedback["rating"] == 4
    assert rec.user_feedback["helpful"] is True


def test_a_step_status_is_set_from_the_dashboard(member, company, steps, provider):
    from recommendations.models import CompanyStepProgress

    client = logged_in(member)
    url = reverse("step-progress-page", args=[company.pk, steps[0].pk])
    response = client.post(url, {"status": "in_progress"})
    assert response.status_code == 302
    progress = CompanyStepProgress.objects.get(company=company, step=steps[0])
    assert progress.status == "in_progress"
    assert client.post(url, {"status": "nonsense"}).status_code == 302


def test_controls_need_a_post_with_csrf(member, company, steps, provider):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member.user)
    url = reverse("step-progress-page", args=[company.pk, steps[0].pk])
    assert client.post(url, {"status": "in_progress"}).status_code == 403
    assert logged_in(member).get(url).status_code == 405


def test_a_viewer_sees_no_controls_and_cannot_post(company, steps, provider):
    from tests.builders import make_member

    viewer = make_member(company=company, role="viewer")
    client = Client()
    client.force_login(viewer.user)
    page = client.get(reverse("company-dashboard", args=[company.pk]))
    assert "Start</button>" not in page.text
    url = reverse("step-progress-page", args=[company.pk, steps[0].pk])
    refused = client.post(url, {"status": "in_progress"})
    assert refused.status_code == 403
    assert "You cannot do that here" in refused.text  # the branded page, not a bare 403
    # The page's own fetch gets the reason to show next to the control.
    answer = client.post(url, {"status": "in_progress"}, headers={"Accept": "application/json"})
    assert answer.status_code == 403
    assert answer.json() == {"message": views.READ_ONLY}
    assert not CompanyStepProgress.objects.filter(company=company).exists()


def test_every_control_of_another_company_is_404(member, company, other_company, steps, provider):
    theirs = make_recommendation(company=other_company, context_hash="0" * 64, step=steps[0])
    client = logged_in(member)
    for url in (
        reverse("recommendation-action-page", args=[other_company.pk, theirs.pk, "start"]),
        reverse("recommendation-feedback-page", args=[other_company.pk, theirs.pk]),
        reverse("step-progress-page", args=[other_company.pk, steps[0].pk]),
        # Their recommendation through my company's route is not found either.
        reverse("recommendation-action-page", args=[company.pk, theirs.pk, "start"]),
    ):
        assert client.post(url, {"rating": "3", "status": "completed"}).status_code == 404, url


def test_a_second_reader_sees_the_text_so_far_as_readable_text(member, company, steps, provider):
    from generation.models import Generation, GenerationStatus

    client = logged_in(member)
    client.get(reverse("company-dashboard", args=[company.pk]))
    # The health summary's claim, half streamed by the background task.
    health = Generation.objects.get(kind="health_summary", company=company)
    Generation.objects.filter(pk=health.pk).update(
        status=GenerationStatus.STREAMING,
        text='{"score": 64, "headline": "<script>alert(1)</script> Steady", "summ',
    )

    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk])).text

    assert f'data-events="/api/generations/{health.pk}/events"' in page
    assert "The health summary is being written" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Steady" in page  # escaped, readable
    assert "<script>alert(1)" not in page
    assert '"headline"' not in page and "{&quot;" not in page  # never the raw JSON
    assert provider.calls == 0


def test_each_step_has_one_control_that_moves_it_on_and_the_next_step_leads(
    member, company, steps, provider
):
    services.update_step_progress(company=company, step=steps[0], status="completed")
    services.update_step_progress(company=company, step=steps[1], status="in_progress")
    page = logged_in(member).get(reverse("company-dashboard", args=[company.pk])).text

    def control(step) -> tuple[str, str]:
        block = page.split(f'id="step-{step.pk}"', 1)[1].split("</form>", 1)[0]
        value = block.split('name="status" value="', 1)[1].split('"', 1)[0]
        label = block.split("<button", 1)[1].split(">", 1)[1].split("<", 1)[0]
        return value, label

    assert control(steps[0]) == ("in_progress", "Reopen")
    assert control(steps[1]) == ("completed", "Mark done")
    assert control(steps[2]) == ("in_progress", "Start")
    assert "<select" not in page.split('id="journey"', 1)[1]  # no table of dropdowns
    # What to do next comes first: the step in progress, then the recommendations.
    lead = page.split('id="next-step"', 1)[1].split('id="recommendations"', 1)[0]
    assert steps[1].name in lead and "Mark this step done" in lead
    assert (
        page.index('id="next-step"')
        < page.index('id="recommendations"')
        < page.index('id="journey"')
    )


def test_members_see_no_bookkeeping_and_no_preselected_rating(member, company, steps, provider):
    context = services.current_snapshot(company=company).context_hash
    make_recommendation(company=company, context_hash=context, step=steps[0])
    client = logged_in(member)

    page = client.get(reverse("company-dashboard", args=[company.pk])).text

    assert "Shown 1 time" not in page
    rating = page.split('name="rating">', 1)[1].split("</select>", 1)[0]
    assert '<option value="" selected>' in rating  # nothing chosen for the member

    member.user.is_staff = True
    member.user.save()
    assert "Shown 2 times" in client.get(reverse("company-dashboard", args=[company.pk])).text
