"""Provider selection: settings.EVERGREEN_PROVIDER names the default."""

from functools import cache

from django.conf import settings

from generation.providers.base import Provider, ProviderRequest, ProviderResult

__all__ = ["Provider", "ProviderRequest", "ProviderResult", "get_provider"]


@cache
def _build(name: str, api_key: str, base_url: str | None, timeout: float) -> Provider:
    if name == "offline":
        from generation.providers.offline import OfflineProvider

        return OfflineProvider()
    if name == "openai":
        from generation.providers.openai import OpenAIProvider

        return OpenAIProvider(api_key=api_key, base_url=base_url, timeout=timeout)
    raise ValueError(f"unknown provider {name!r}; use 'openai' or 'offline'")


def get_provider(name: str | None = None) -> Provider:
    """The configured provider; cached per configuration so settings overrides in
    tests (another base URL, say) get their own client."""
    return _build(
        name or settings.EVERGREEN_PROVIDER,
        settings.OPENAI_API_KEY,
        settings.OPENAI_BASE_URL,
        settings.EVERGREEN_RETRY["request_timeout"],
    )
