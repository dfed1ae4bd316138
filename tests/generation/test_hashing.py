import subprocess
import sys
from decimal import Decimal

from pydantic import BaseModel

from generation.hashing import canonical_json, context_hash
from tests.processes import ROOT


class Answer(BaseModel):
    text: str


class OtherAnswer(BaseModel):
    text: str
    score: int


BASE = {
    "inputs": {"b": [1, 2, {"y": 1, "x": 2}], "a": "é", "when": Decimal("1.50")},
    "prompt_key": "p",
    "prompt_version": 1,
    "template_hash": "t",
    "model": "m",
    "temperature": 0.2,
    "schema": Answer,
}
# Pinned: stored content is found by this value, so it must never drift.
PINNED = "1d55daeed555c4b78212ee9ce0925577d97b1b7f6e9b9637d76d1acb3815ed3d"


def test_hash_matches_the_pinned_value():
    assert context_hash(**BASE) == PINNED


def test_hash_ignores_dict_order():
    reordered = dict(
        BASE, inputs={"when": Decimal("1.50"), "a": "é", "b": [1, 2, {"x": 2, "y": 1}]}
    )
    assert context_hash(**BASE) == context_hash(**reordered)


def test_hash_changes_with_every_part():
    base = context_hash(**BASE)
    changes = {
        "inputs": {"a": "other"},
        "prompt_key": "q",
        "prompt_version": 2,
        "template_hash": "u",
        "model": "m2",
        "temperature": 0.3,
        "schema": OtherAnswer,
        "provider": "offline",
    }
    for field, value in changes.items():
        assert context_hash(**dict(BASE, **{field: value})) != base, field


def test_hash_is_stable_across_processes():
    code = (
        "from decimal import Decimal;"
        "from tests.generation.test_hashing import BASE;"
        "from generation.hashing import context_hash;"
        "print(context_hash(**BASE))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"},
    )
    assert out.stdout.strip() == context_hash(**BASE)


def test_canonical_json_is_compact_and_sorted():
    assert canonical_json({"b": 1, "a": [Decimal("2.0")]}) == '{"a":["2.0"],"b":1}'
