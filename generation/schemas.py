"""Output schemas by name, so a Prompt row can name its schema and a background
task can regenerate from the Generation row alone."""

from pydantic import BaseModel

_SCHEMAS: dict[str, type[BaseModel]] = {}


def register_schema(name: str, schema: type[BaseModel]) -> type[BaseModel]:
    existing = _SCHEMAS.get(name)
    if existing is not None and existing is not schema:
        raise ValueError(f"schema name {name!r} is already registered to {existing.__name__}")
    _SCHEMAS[name] = schema
    return schema


def get_schema(name: str) -> type[BaseModel] | None:
    if not name:
        return None
    try:
        return _SCHEMAS[name]
    except KeyError:
        raise LookupError(f"no output schema registered as {name!r}") from None


def schema_names() -> list[str]:
    return sorted(_SCHEMAS)
