"""Throttles that mean something: a request is counted when it may spend money.

A read served from stored content costs a few queries; a read that enters the
generation path may call the model. So views that can generate use
`GenerationThrottleMixin`: nothing is checked when the request starts, and the
first time the request enters the generation path the domain service calls
`charge_generation()`, which counts it against the caller's `generation` rate
(`GENERATION_THROTTLE_RATE`, 60/minute) and answers 429 with Retry-After when the
rate is spent. The counts are kept in the "shared" cache, shared by every worker
process (Redis when `REDIS_CACHE_URL` is set, otherwise the database cache).

A view whose every request of some method may call the model (a POST that starts
a review run) names those methods in `generating_methods`: such a request is
charged as soon as it is authenticated, before its body is read.

Outside such a view (a task, the admin, the dashboard page) `charge_generation()`
does nothing.
"""

from collections.abc import Callable
from contextvars import ContextVar

from django.core.cache import caches
from rest_framework.exceptions import Throttled
from rest_framework.throttling import ScopedRateThrottle

_gate: ContextVar[Callable[[], None] | None] = ContextVar("evergreen_generation_gate", default=None)


class GenerationThrottle(ScopedRateThrottle):
    """DRF's scoped throttle (per user, else per IP), counted in the "shared" cache:
    every worker process counts against the same rate."""

    @property
    def cache(self):
        return caches["shared"]


def charge_generation() -> None:
    """Count this request as one that may call the model (once per request); raises
    Throttled (429) when the caller's generation rate is spent."""
    gate = _gate.get()
    if gate is not None:
        gate()


class GenerationThrottleMixin:
    """For DRF views whose requests may generate: throttled only when they do."""

    throttle_scope = "generation"
    generation_throttle_classes = [GenerationThrottle]
    # Methods whose every request may call the model: charged up front.
    generating_methods: frozenset[str] = frozenset()

    def check_throttles(self, request) -> None:
        super().check_throttles(request)
        if request.method in self.generating_methods:
            charge_generation()

    def dispatch(self, request, *args, **kwargs):
        charged = False

        def gate() -> None:
            nonlocal charged
            if charged:
                return
            charged = True
            for throttle_class in self.generation_throttle_classes:
                throttle = throttle_class()
                if not throttle.allow_request(self.request, self):
                    raise Throttled(wait=throttle.wait())

        token = _gate.set(gate)
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            _gate.reset(token)
