"""Pages: the review runs with a form to submit an idea and the metrics, and a run page
that reads like a document, follows the run live (static/evergreen/run.js) and is
complete without JavaScript."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from companies.selectors import can_write, companies_for, writable_companies_for
from reviews import selectors, services
from reviews.lifecycle import RunStatus
from reviews.serializers import MAX_IDEA


@login_required
@require_http_methods(["GET", "POST"])
def run_list(request: HttpRequest) -> HttpResponse:
    """The runs of the user's companies and a form to submit an idea, offered only for
    the companies where the user may act. A refused submission is the page again with
    what was typed and why it was refused."""
    writable = list(writable_companies_for(user=request.user).order_by("name"))
    idea, chosen, error, status = "", "", "", 200
    if request.method == "POST":
        idea = request.POST.get("idea", "").strip()
        chosen = request.POST.get("company", "")
        company = next((c for c in writable if str(c.pk) == chosen), None)
        if company is None and companies_for(user=request.user).filter(pk=_pk(chosen)).exists():
            error, status = READ_ONLY, 403
        elif company is None or not idea or len(idea) > MAX_IDEA:
            error, status = "Choose one of your companies and describe the idea.", 400
        else:
            run, _ = services.create_run(company=company, user=request.user, idea=idea)
            return redirect("review-run-page", pk=run.pk)
    runs = selectors.run_list(user=request.user)[:50]
    return render(
        request,
        "reviews/runs.html",
        {
            "companies": writable,
            "chosen": chosen,
            "idea": idea,
            "max_idea": MAX_IDEA,
            "runs": runs,
            "error": error,
            "metrics": selectors.metrics(user=request.user),
        },
        status=status,
    )


READ_ONLY = (
    "You can read this company's reviews but not submit ideas for it: that needs an "
    "editor or admin role. Your idea is kept below."
)


def _pk(value: str) -> int:
    return int(value) if value.isdigit() and len(value) < 19 else 0


@login_required
def run_page(request: HttpRequest, pk) -> HttpResponse:
    """The run as a document: the outcome first (the decision, or what failed and a
    Retry), reviewer progress, the idea, the proposal as readable text (so far, while it
    is written), the reviews, and the timeline folded away."""
    # The last event first: what is read after it is as new or newer, and the page
    # follows the events after it (the text and the timeline stop at it).
    last_event = selectors.last_event_id(run_id=pk)
    run = get_object_or_404(selectors.run_detail_queryset(user=request.user), pk=pk)
    names = selectors.persona_names()
    proposal = run.proposal if hasattr(run, "proposal") else None
    decision = run.decision if hasattr(run, "decision") else None
    reviews = list(run.reviews.all())
    text = "" if proposal else selectors.proposal_text(run=run, upto=last_event)
    timeline = selectors.timeline(run=run, names=names, upto=last_event)
    progress = selectors.review_progress(run=run, reviews=reviews)
    failed = run.status == RunStatus.FAILED
    fields = selectors.proposal_fields()
    diff = (proposal.proposal_diff or {}) if proposal else {}
    live = {
        "events": reverse("review-run-events", args=[run.pk]),
        "last_event": last_event,
        "stored": proposal is not None,
        "done": progress.done,
        "total": progress.total,
        "text": text,
        "fields": fields,
        "labels": selectors.EVENT_LABELS,
        "personas": names,
        "started": run.created_at,
        "previous": timeline[-1]["at"] if timeline else run.created_at,
    }
    return render(
        request,
        "reviews/run.html",
        {
            "run": run,
            "proposal": proposal,
            "blocks": selectors.proposal_blocks(proposal.expanded_proposal if proposal else text),
            "outcome": selectors.outcome(decision=decision, names=names) if decision else None,
            "failure": selectors.failure_text(error=run.error, names=names) if failed else "",
            "can_retry": failed and can_write(user=request.user, company=run.company),
            "reviews": reviews,
            "progress": progress,
            "changed": [dict(fields).get(name, name) for name in diff.get("changed", [])],
            "timeline": timeline,
            "live": live,
        },
    )


@login_required
@require_POST
def retry_run(request: HttpRequest, pk) -> HttpResponse:
    """A failed run started again as a new run from the same idea (a revision again
    for a revision). Idempotent per run and user: a second click opens the same run."""
    runs = selectors.runs_for(user=request.user).select_related("company", "parent_run")
    run = get_object_or_404(runs, pk=pk)
    if not can_write(user=request.user, company=run.company):
        raise PermissionDenied
    if run.status != RunStatus.FAILED:
        return redirect("review-run-page", pk=run.pk)
    if run.parent_run_id is not None:
        again = services.create_revision(
            parent=run.parent_run,
            user=request.user,
            edit_notes=run.parameters.get("edit_notes", ""),
            idea=run.input_idea,
            extra_context=run.extra_context,
        )
    else:
        again, _ = services.create_run(
            company=run.company,
            user=request.user,
            idea=run.input_idea,
            extra_context=run.extra_context,
            idempotency_key=f"retry:{run.pk}",
        )
    return redirect("review-run-page", pk=again.pk)
