"""Django-Q2 entry points: thin wrappers that load by id and call one service."""

from generation import flight


def run_claimed(generation_id: int, owner: str) -> None:
    flight.run_claimed(generation_id=generation_id, owner=owner)


def revalidate(generation_id: int, owner: str) -> None:
    flight.revalidate(generation_id=generation_id, owner=owner)
