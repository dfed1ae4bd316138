"""Every setting the code reads from the environment is in .env.example, with the
code's own default; a newcomer who copies the file changes nothing by doing so."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "config" / "settings.py"
EXAMPLE = ROOT / ".env.example"
ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def read_settings() -> dict[str, tuple[str, object]]:
    """NAME -> (the env method's type, its literal default, or ... when it is computed)."""
    found: dict[str, tuple[str, object]] = {}
    for node in ast.walk(ast.parse(SETTINGS.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "env":
            kind = "str"
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "env"
        ):
            kind = func.attr
        else:
            continue
        if not node.args or not isinstance(node.args[0], ast.Constant):
            continue
        default: object = ...
        for keyword in node.keywords:
            if keyword.arg == "default":
                try:
                    default = ast.literal_eval(keyword.value)
                except ValueError:
                    default = ...  # computed from other settings: documented in words
        found[node.args[0].value] = (kind, default)
    return found


def read_example() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            values.setdefault(match.group(1), match.group(2).strip())
    return values


def same(kind: str, default: object, written: str) -> bool:
    if kind == "bool":
        return (
            written.lower() in ("true", "1", "yes", "on")
            if default
            else written.lower()
            in (
                "false",
                "0",
                "no",
                "off",
                "",
            )
        )
    if kind in ("int", "float"):
        return float(written.replace("_", "")) == float(default)
    if kind == "list":
        return [v for v in written.split(",") if v] == list(default)
    if kind == "db":
        return True  # a URL: the example names the default database in words
    return written == str(default)


def test_every_setting_read_from_the_environment_is_in_the_example():
    missing = sorted(set(read_settings()) - set(read_example()))
    assert missing == []


def test_the_example_gives_the_codes_own_defaults():
    example = read_example()
    wrong = {
        name: (default, example[name])
        for name, (kind, default) in read_settings().items()
        if default is not ... and name in example and not same(kind, default, example[name])
    }
    assert wrong == {}
