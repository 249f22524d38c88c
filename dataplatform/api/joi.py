"""A small validator that checks bodies the way OpenPAI's Joi 13 schemas do, with Joi's messages.

OpenPAI clients see Joi's texts in ``InvalidParametersError`` messages (``child "password" fails because
["password" length must be at least 6 characters long]``), so the OpenPAI family validates with the same
rules and words: the first error only (``abortEarly``), strings converted to numbers and booleans where Joi
converts them, unknown keys refused, defaults filled in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_MISSING = object()


class JoiError(ValueError):
    """The value does not match the schema; ``message`` is Joi's text for the first problem, ``key`` the top-level
    key of the object it is in (None when the value itself is wrong), for callers that answer some keys' problems
    differently."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def _fail(label: str, text: str) -> JoiError:
    return JoiError(f'"{label}" {text}')


@dataclass
class Schema:
    required: bool = False
    default: Any = _MISSING
    allow_null: bool = False

    def check(self, value: Any, label: str) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema (OpenAPI) of what ``check`` accepts: the one description of a body, so the documentation
        and the parsing cannot drift apart."""
        schema = self._json_schema()
        if self.default is not _MISSING and not callable(self.default):
            schema["default"] = self.default
        if self.allow_null:
            schema["nullable"] = True
        return schema

    def _json_schema(self) -> dict[str, Any]:
        return {}


@dataclass
class String(Schema):
    min: int | None = None
    max: int | None = None
    token: bool = False
    pattern: str | None = None
    allow_empty: bool = False
    valid: tuple[str, ...] | None = None

    def check(self, value: Any, label: str) -> Any:
        if not isinstance(value, str):
            raise _fail(label, "must be a string")
        if value == "":
            if self.allow_empty:
                return value
            raise _fail(label, "is not allowed to be empty")
        if self.valid is not None and value not in self.valid:
            raise _fail(label, f"must be one of [{', '.join(self.valid)}]")
        if self.min is not None and len(value) < self.min:
            raise _fail(label, f"length must be at least {self.min} characters long")
        if self.max is not None and len(value) > self.max:
            raise _fail(label, f"length must be less than or equal to {self.max} characters long")
        if self.token and not re.fullmatch(r"[A-Za-z0-9_]+", value):
            raise _fail(label, "must only contain alpha-numeric and underscore characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise _fail(label, f'with value "{value}" fails to match the required pattern: /{self.pattern}/')
        return value

    def _json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.valid is not None:
            schema["enum"] = list(self.valid)
        if self.max is not None:
            schema["maxLength"] = self.max
        minimum = self.min if self.min is not None else (0 if self.allow_empty else 1)
        if minimum:
            schema["minLength"] = minimum
        pattern = "^[A-Za-z0-9_]+$" if self.token else (f"^(?:{self.pattern})$" if self.pattern else None)
        if pattern is not None:
            schema["pattern"] = pattern if not self.allow_empty else f"^$|{pattern}"
        return schema


@dataclass
class Number(Schema):
    integer: bool = False
    min: float | None = None
    max: float | None = None

    def check(self, value: Any, label: str) -> Any:
        if isinstance(value, str):  # Joi converts numeric strings (form bodies are all strings)
            try:
                value = float(value) if value.strip() else None
            except ValueError:
                value = None
            if value is None:
                raise _fail(label, "must be a number")
            if value.is_integer():
                value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(label, "must be a number")
        if self.integer and not float(value).is_integer():
            raise _fail(label, "must be an integer")
        if self.min is not None and value < self.min:
            raise _fail(label, f"must be larger than or equal to {_num(self.min)}")
        if self.max is not None and value > self.max:
            raise _fail(label, f"must be less than or equal to {_num(self.max)}")
        return int(value) if self.integer else value

    def _json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.min is not None:
            schema["minimum"] = self.min
        if self.max is not None:
            schema["maximum"] = self.max
        return schema


def _num(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else str(limit)


@dataclass
class Boolean(Schema):
    def check(self, value: Any, label: str) -> Any:
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise _fail(label, "must be a boolean")
        return value

    def _json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass
class Object(Schema):
    keys: dict[str, Schema] = field(default_factory=dict)
    unknown: bool = False
    #: Any other key is refused with this text instead of Joi's "is not allowed" (e.g. an obsolete field).
    refused: dict[str, str] = field(default_factory=dict)
    #: Free-form mapping whose values must match this schema (Joi's ``object().pattern(/.*/, schema)``).
    values: Schema | None = None

    def check(self, value: Any, label: str) -> Any:
        if not isinstance(value, dict):
            raise _fail(label, "must be an object")
        result: dict[str, Any] = {}
        for name, schema in self.keys.items():
            result_value = _validate_child(value.get(name, _MISSING), schema, name)
            if result_value is not _MISSING:
                result[name] = result_value
        for name, item in value.items():
            if name in self.keys:
                continue
            if name in self.refused:
                raise JoiError(f'child "{name}" fails because ["{name}" {self.refused[name]}]', key=name)
            if self.values is not None:
                result[name] = _validate_child(item, self.values, name)
            elif self.unknown:
                result[name] = item
            else:
                raise JoiError(f'"{name}" is not allowed', key=name)
        return result

    def _json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object"}
        if self.keys:
            schema["properties"] = {name: child.json_schema() for name, child in self.keys.items()}
            required = [name for name, child in self.keys.items() if child.required]
            if required:
                schema["required"] = required
        if self.values is not None:
            schema["additionalProperties"] = self.values.json_schema()
        elif not self.unknown:
            schema["additionalProperties"] = False
        return schema


@dataclass
class Array(Schema):
    items: Schema | None = None
    min: int | None = None

    def check(self, value: Any, label: str) -> Any:
        if not isinstance(value, list):
            raise _fail(label, "must be an array")
        if self.min is not None and len(value) < self.min:
            raise _fail(label, f"must contain at least {self.min} items")
        if self.items is None:
            return list(value)
        result = []
        for position, item in enumerate(value):
            try:
                result.append(self.items.check(item, str(position)))
            except JoiError as exc:
                raise _fail(label, f"at position {position} fails because [{exc.message}]") from None
        return result

    def _json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array"}
        if self.items is not None:
            schema["items"] = self.items.json_schema()
        if self.min is not None:
            schema["minItems"] = self.min
        return schema


def _validate_child(value: Any, schema: Schema, name: str) -> Any:
    """Validate one key of an object; Joi reports a key's problem as ``child "k" fails because [...]``."""
    try:
        if value is _MISSING:
            if schema.required:
                raise _fail(name, "is required")
            return schema.default
        if value is None:
            if schema.allow_null:
                return None
            raise _fail(name, "must be " + _type_name(schema))
        return schema.check(value, name)
    except JoiError as exc:
        raise JoiError(f'child "{name}" fails because [{exc.message}]', key=name) from None


def _type_name(schema: Schema) -> str:
    return {String: "a string", Number: "a number", Boolean: "a boolean", Object: "an object", Array: "an array"}.get(
        type(schema), "a value"
    )


def validate(value: Any, schema: Object) -> dict[str, Any]:
    """Return the converted value with defaults, or raise JoiError with Joi's message for the first problem."""
    return schema.check(value, "value")
