from decimal import Decimal

from django.conf import settings

MILLION = Decimal(1_000_000)


def cost_for(*, model: str, tokens_in: int, tokens_out: int) -> Decimal:
    """USD for one call; dated model names ("gpt-4o-mini-2024-07-18") use their base price."""
    prices = settings.EVERGREEN_MODEL_PRICES
    match = prices.get(model)
    if match is None:
        candidates = [name for name in prices if model.startswith(name + "-")]
        match = prices[max(candidates, key=len)] if candidates else (Decimal(0), Decimal(0))
    price_in, price_out = match
    cost = (price_in * tokens_in + price_out * tokens_out) / MILLION
    return cost.quantize(Decimal("0.000001"))
