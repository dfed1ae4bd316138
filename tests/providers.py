"""An in-process provider for tests that counts calls and can be told to fail or stall."""

import threading
import time
from collections import Counter

from generation.errors import ProviderError
from generation.providers.offline import OfflineProvider


class CountingProvider(OfflineProvider):
    name = "offline"

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.fail_with: ProviderError | None = None
        self.delay = 0.0  # seconds each call takes

    @property
    def calls(self) -> int:
        return sum(self.counts.values())

    def _enter(self, method: str) -> None:
        with self.lock:
            self.counts[method] += 1
        if self.delay:
            time.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with

    def generate_text(self, request):
        self._enter("generate_text")
        return super().generate_text(request)

    def generate_structured(self, request, schema):
        self._enter("generate_structured")
        return super().generate_structured(request, schema)

    def stream_text(self, request, schema=None):
        self._enter("stream_text")
        # The offline stream makes its text with generate_structured: one call, counted
        # once, so it is made by a provider that does not count.
        yield from OfflineProvider().stream_text(request, schema)
