"""What a call costs: USD per million tokens.

Input and output prices are settings.EVERGREEN_MODEL_PRICES (model -> (input,
output)). Cached input tokens, the part of the input the provider served from its
prompt cache (OpenAI's `input_tokens_details.cached_tokens`), have a price of their
own: CACHED_INPUT_PRICES, OpenAI's published rates, or half the input price for a
model not listed there.
"""

from decimal import Decimal

from django.conf import settings

MILLION = Decimal(1_000_000)
CACHED_INPUT_SHARE = Decimal("0.5")
CACHED_INPUT_PRICES = {
    "gpt-4o-mini": Decimal("0.075"),
    "gpt-4o": Decimal("1.25"),
    "gpt-4.1-mini": Decimal("0.10"),
    "gpt-4.1": Decimal("0.50"),
    "gpt-5-mini": Decimal("0.025"),
}
FREE = (Decimal(0), Decimal(0))


def estimate_tokens(text: str) -> int:
    """Tokens in a text, roughly (four characters each), for when no count is known."""
    return max(1, len(text) // 4)


def _base_name(model: str, names) -> str | None:
    """The listed name a model answers to: itself, or the longest listed name it is a
    dated version of ("gpt-4o-mini-2024-07-18" is "gpt-4o-mini")."""
    if model in names:
        return model
    candidates = [name for name in names if model.startswith(name + "-")]
    return max(candidates, key=len) if candidates else None


def prices_for(model: str) -> tuple[Decimal, Decimal, Decimal]:
    """(input, output, cached input) per million tokens; unknown models are free."""
    prices = settings.EVERGREEN_MODEL_PRICES
    name = _base_name(model, prices)
    price_in, price_out = prices[name] if name else FREE
    cached_name = _base_name(model, CACHED_INPUT_PRICES)
    if cached_name is not None and name is not None:
        price_cached = CACHED_INPUT_PRICES[cached_name]
    else:
        price_cached = price_in * CACHED_INPUT_SHARE
    return price_in, price_out, price_cached


def cost_for(*, model: str, tokens_in: int, tokens_out: int, tokens_cached: int = 0) -> Decimal:
    """USD for one call. `tokens_cached` are part of `tokens_in`, priced at their rate."""
    price_in, price_out, price_cached = prices_for(model)
    cached = min(tokens_cached, tokens_in)
    fresh = tokens_in - cached
    cost = (price_in * fresh + price_cached * cached + price_out * tokens_out) / MILLION
    return cost.quantize(Decimal("0.000001"))
