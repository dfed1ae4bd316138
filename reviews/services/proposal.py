"""The expand step: the idea (or, for a revision, the parent's proposal and the edit
notes) becomes a proposal, streamed, and its stream is copied into run events as it
is written so the run can be followed live."""

import logging
import threading

from django.db import connection, transaction

from generation.events import hub, release_connection
from generation.models import Generation
from generation.prompts import active_prompt, prompt_context_hash
from generation.streams import StreamCursor, events_from, read_stream
from reviews.errors import StepFailed
from reviews.lifecycle import EventType, RunType
from reviews.models import ProposalVersion, Run, RunEvent
from reviews.schemas import PROPOSAL_SECTIONS, ExpandedProposal
from reviews.services.calls import generate, record_step, step_error
from reviews.services.events import append_event
from reviews.services.personas import active_personas, persona_template_version

logger = logging.getLogger(__name__)

EXPAND_PROMPT = "review-expand"
KIND_PROPOSAL = "review_proposal"


def _expand_inputs(run: Run) -> dict:
    inputs = {"idea": run.input_idea, "extra_context": run.extra_context or {}}
    if run.run_type == RunType.REVISION:
        parent = ProposalVersion.objects.get(run_id=run.parent_run_id)
        inputs["parent_proposal"] = parent.expanded_proposal
        inputs["edit_notes"] = run.parameters.get("edit_notes", "")
    return inputs


def expand(*, run: Run) -> ProposalVersion:
    inputs = _expand_inputs(run)
    scope = f"company:{run.company_id}:reviews"
    prompt = active_prompt(key=EXPAND_PROMPT)
    mirror = _ProposalMirror(
        run.pk,
        kind=KIND_PROPOSAL,
        scope=scope,
        key=prompt_context_hash(prompt=prompt, inputs=inputs),
    )
    with mirror:
        result = generate(
            run_id=run.pk,
            step="expand",
            persona=None,
            kind=KIND_PROPOSAL,
            scope=scope,
            prompt_key=EXPAND_PROMPT,
            inputs=inputs,
            company_id=run.company_id,
            stream=True,
        )
    try:
        proposal = ExpandedProposal.model_validate(result.content).model_dump(mode="json")
    except ValueError as exc:
        raise StepFailed(step_error("expand", None, "invalid_output", str(exc)[:500])) from exc
    diff = (
        proposal_diff(inputs["parent_proposal"], proposal) if "parent_proposal" in inputs else None
    )
    versions = persona_template_version(active_personas())
    with transaction.atomic():
        version, created = ProposalVersion.objects.get_or_create(
            run=run,
            defaults={
                "expanded_proposal": proposal,
                "proposal_diff": diff,
                "persona_template_version": " ".join(f"{k}:v{v}" for k, v in versions.items()),
                "edit_notes": inputs.get("edit_notes", ""),
                "generation_id": result.generation.pk,
            },
        )
        if created:
            append_event(
                run_id=run.pk,
                event_type=EventType.PROPOSAL_STORED,
                step="expand",
                data={"proposal": proposal, "diff": diff, "source": result.source},
            )
            record_step(run_id=run.pk, result=result)
    return version


def proposal_diff(before: dict, after: dict) -> dict:
    """Which sections changed between two proposals, with both texts of each change."""
    names = ["title", *PROPOSAL_SECTIONS, "assumptions"]
    changed = [n for n in names if before.get(n) != after.get(n)]
    return {
        "changed": changed,
        "unchanged": [n for n in names if n not in changed],
        "sections": {n: {"before": before.get(n), "after": after.get(n)} for n in changed},
    }


class _ProposalMirror:
    """Copies the expand step's stream (its generation's chunks) into PROPOSAL_TEXT run
    events while it is written, so one ordered sequence of run events carries the whole
    run live. Runs beside the blocking get_or_generate call; on exit it copies what is
    left and stops."""

    def __init__(self, run_id, *, kind: str, scope: str, key: str) -> None:
        self.run_id, self.kind, self.scope, self.key = run_id, kind, scope, key
        self._stop = threading.Event()
        self._sub = None
        self._thread = threading.Thread(
            target=self._run, name=f"review-mirror-{run_id}", daemon=True
        )
        self.error: BaseException | None = None

    def __enter__(self):
        # A worker that took over may have copied part of an earlier stream: start over.
        if RunEvent.objects.filter(run_id=self.run_id, type=EventType.PROPOSAL_TEXT).exists():
            with transaction.atomic():
                append_event(run_id=self.run_id, event_type=EventType.PROPOSAL_RESET, step="expand")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        sub = self._sub
        if sub is not None:
            sub.fire()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        cursor = StreamCursor()
        generation_id = None
        try:
            while True:
                stopping = self._stop.is_set()
                if generation_id is None:
                    generation_id = (
                        Generation.objects.filter(
                            kind=self.kind, scope=self.scope, context_hash=self.key
                        )
                        .values_list("pk", flat=True)
                        .first()
                    )
                    if generation_id is not None:
                        self._sub = hub.subscribe(generation_id)
                if generation_id is not None:
                    snapshot = read_stream(
                        generation_id=generation_id, after=cursor.read_after, state=lambda g: {}
                    )
                    self._copy(events_from(snapshot=snapshot, cursor=cursor))
                if stopping or cursor.finished:
                    return
                release_connection()
                if self._sub is not None:
                    self._sub.wait(1.0)
                else:
                    self._stop.wait(0.05)
        except BaseException as exc:  # the run goes on without live text
            self.error = exc
            logger.exception("review run %s: copying the proposal stream failed", self.run_id)
        finally:
            if self._sub is not None:
                self._sub.close()
            connection.close()

    def _copy(self, events) -> None:
        events = [e for e in events if e.name in ("chunk", "reset")]
        if not events:
            return
        with transaction.atomic():
            for event in events:
                if event.name == "reset":
                    append_event(
                        run_id=self.run_id, event_type=EventType.PROPOSAL_RESET, step="expand"
                    )
                else:
                    append_event(
                        run_id=self.run_id,
                        event_type=EventType.PROPOSAL_TEXT,
                        step="expand",
                        data={"text": event.data["text"]},
                    )
