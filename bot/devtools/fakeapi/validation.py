"""Own the check of one Bot API call's parameters against the specification.

Telegram receives every parameter either as a JSON value or, in form and multipart bodies, as a
string (objects and arrays JSON-serialised); this module turns either into typed values and
lists every way they differ from the spec: unknown or missing parameters, wrong basic types,
and nested objects checked field by field (names, required fields, types, union members). It
must never accept what the spec forbids and never echo parameter values in its problems.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.devtools.fakeapi.spec import ARRAY_PREFIX, BotApiSpec, FieldSpec, ObjectSpec

_INTEGER = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}
_UNSET = object()
_COERCION_ORDER = ("Integer", "Float", "Boolean")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (what the spec calls InputFile)."""

    filename: str | None
    content_type: str | None
    content: bytes


@dataclass(frozen=True)
class _Outcome:
    """Problems found for one value; ``shaped`` is False when its basic shape is wrong."""

    problems: tuple[str, ...]
    shaped: bool


_OK = _Outcome((), True)


class CallValidator:
    """Check parameters and objects against one spec; stateless apart from the spec."""

    def __init__(self, spec: BotApiSpec) -> None:
        self._spec = spec

    @property
    def spec(self) -> BotApiSpec:
        """The spec this validator checks against."""
        return self._spec

    def parameters(
        self, method: ObjectSpec, raw: Mapping[str, object]
    ) -> tuple[dict[str, Any], list[str]]:
        """Return the typed parameters and every problem Telegram would refuse them for."""
        typed: dict[str, Any] = {}
        problems: list[str] = []
        for name, value in raw.items():
            field = method.fields.get(name)
            if field is None:
                problems.append(f'unknown parameter "{name}"')
                continue
            converted, found = self._parameter(field, value)
            problems.extend(found)
            if not found:
                typed[name] = converted
        problems.extend(
            f'parameter "{field.name}" is required'
            for field in method.fields.values()
            if field.required and field.name not in raw
        )
        return typed, problems

    def object_problems(self, type_expr: str, value: object, path: str = "value") -> list[str]:
        """List why a JSON value is not a valid instance of a spec type (empty when valid)."""
        return list(self._check((type_expr,), value, path).problems)

    def _parameter(self, field: FieldSpec, value: object) -> tuple[object, list[str]]:
        """Convert one parameter to its typed value, trying each allowed type in turn."""
        name = field.name
        if isinstance(value, UploadedFile):
            if "InputFile" in field.types:
                return value, []
            return None, [f'parameter "{name}" must be {_describe(field.types)}, not a file']
        if not isinstance(value, str):
            outcome = self._check(field.types, value, name)
            return value, list(outcome.problems)
        best: tuple[str, ...] | None = None
        for alternative in _string_order(field.types):
            candidate = _from_string(alternative, value)
            if candidate is _UNSET:
                continue
            outcome = self._check((alternative,), candidate, name)
            if not outcome.problems:
                return candidate, []
            if outcome.shaped and (best is None or len(outcome.problems) < len(best)):
                best = outcome.problems
        if best is not None:
            return None, list(best)
        if any(_is_structured(alternative) for alternative in field.types):
            return None, [f'can\'t parse parameter "{name}": expected a JSON-serialized value']
        return None, [f'parameter "{name}" must be {_describe(field.types)}']

    def _check(self, alternatives: Sequence[str], value: object, path: str) -> _Outcome:
        best: _Outcome | None = None
        for alternative in alternatives:
            outcome = self._check_one(alternative, value, path)
            if not outcome.problems:
                return _OK
            if outcome.shaped and (best is None or len(outcome.problems) < len(best.problems)):
                best = outcome
        if best is not None:
            return best
        return _Outcome((f"{path} must be {_describe(alternatives)}",), False)

    def _check_one(self, alternative: str, value: object, path: str) -> _Outcome:
        if alternative.startswith(ARRAY_PREFIX):
            if not isinstance(value, list):
                return _Outcome((f"{path} must be {alternative}",), False)
            inner = alternative[len(ARRAY_PREFIX) :]
            problems: list[str] = []
            for index, item in enumerate(value):
                problems.extend(self._check((inner,), item, f"{path}[{index}]").problems)
            return _Outcome(tuple(problems), True)
        primitive = _primitive_ok(alternative, value)
        if primitive is not None:
            return _OK if primitive else _Outcome((f"{path} must be {alternative}",), False)
        spec = self._spec.types.get(alternative)
        if spec is None:
            raise ValueError("the spec refers to a type it does not define")
        if spec.is_union:
            return self._check(spec.subtypes, value, path)
        if not isinstance(value, dict):
            return _Outcome((f"{path} must be {alternative}",), False)
        return self._check_fields(spec, value, path)

    def _check_fields(self, spec: ObjectSpec, value: dict[Any, Any], path: str) -> _Outcome:
        problems: list[str] = []
        for key, item in value.items():
            field = spec.fields.get(key) if isinstance(key, str) else None
            if field is None:
                problems.append(f'{path} has unknown field "{key}"')
                continue
            if field.const is not None and item != field.const:
                return _Outcome((f'{path}.{key} must be "{field.const}"',), False)
            problems.extend(self._check(field.types, item, f"{path}.{key}").problems)
        problems.extend(
            f"{path}.{field.name} is required in {spec.name}"
            for field in spec.fields.values()
            if field.required and field.name not in value
        )
        return _Outcome(tuple(problems), True)


def _primitive_ok(alternative: str, value: object) -> bool | None:
    """Check a primitive type; None when the alternative is not a primitive."""
    if alternative == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if alternative == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if alternative == "String":
        return isinstance(value, str)
    if alternative == "Boolean":
        return isinstance(value, bool)
    if alternative == "InputFile":
        return isinstance(value, UploadedFile)
    return None


def _is_structured(alternative: str) -> bool:
    return alternative.startswith(ARRAY_PREFIX) or alternative not in (
        "Integer",
        "Float",
        "Boolean",
        "String",
        "InputFile",
    )


def _string_order(types: Sequence[str]) -> list[str]:
    """Order the alternatives for a string value: numbers and flags, then JSON, then text."""
    ordered = [t for t in _COERCION_ORDER if t in types]
    ordered.extend(t for t in types if _is_structured(t))
    ordered.extend(t for t in types if t == "String")
    return ordered


def _from_string(alternative: str, text: str) -> object:
    """Decode a string the way Telegram reads a form field of the given type."""
    if alternative == "String":
        return text
    if alternative == "Integer":
        return int(text) if _INTEGER.fullmatch(text) else _UNSET
    if alternative == "Float":
        return float(text) if _FLOAT.fullmatch(text) else _UNSET
    if alternative == "Boolean":
        return _BOOLEANS.get(text.lower(), _UNSET)
    if alternative == "InputFile":
        return _UNSET
    try:
        return json.loads(text)
    except ValueError:
        return _UNSET


def _describe(alternatives: Sequence[str]) -> str:
    return " or ".join(alternatives)
