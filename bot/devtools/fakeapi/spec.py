"""Own the machine-readable Bot API specification the fake server validates against.

The full ``api.json`` (Bot API 10.1, MIT, from the telegram-bot-api-spec project) lives outside
the repository; this module trims it to what validation needs (names, types, required flags,
the discriminating constant of union members, return types) and loads the vendored trim that
ships inside the package, so a fresh clone validates without the original. It must never fetch
anything from the network and never hold a loaded spec in module state.

Regenerate the vendored copy with
``python -m bot.devtools.fakeapi.spec --regenerate PATH/api.json``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

VENDORED_NAME = "botapi_spec.json"
SOURCE = "https://github.com/PaulSonOfLars/telegram-bot-api-spec (api.json)"
NOTICE = (
    "Trimmed from api.json of the telegram-bot-api-spec project (PaulSonOfLars and "
    "contributors), itself scraped from the official Telegram Bot API documentation at "
    "https://core.telegram.org/bots/api. Published under the MIT License: Permission is hereby "
    "granted, free of charge, to any person obtaining a copy of this software and associated "
    'documentation files (the "Software"), to deal in the Software without restriction, '
    "including without limitation the rights to use, copy, modify, merge, publish, distribute, "
    "sublicense, and/or sell copies of the Software, and to permit persons to whom the Software "
    "is furnished to do so, subject to the following conditions: The above copyright notice and "
    "this permission notice shall be included in all copies or substantial portions of the "
    'Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.'
)

PRIMITIVES = frozenset({"Integer", "String", "Boolean", "Float", "InputFile"})
ARRAY_PREFIX = "Array of "
_DISCRIMINATORS = ("type", "status", "source")
_CONST = re.compile(r"(?:must be|always) [\"“]?([A-Za-z0-9_]+)[\"”]?")


@dataclass(frozen=True)
class FieldSpec:
    """One parameter of a method or one field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool
    const: str | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """A method (parameters) or a type (fields, or the subtypes of a union)."""

    name: str
    fields: Mapping[str, FieldSpec] = field(default_factory=lambda: MappingProxyType({}))
    subtypes: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()

    @property
    def is_union(self) -> bool:
        """Tell whether this type is one of several alternatives rather than an object."""
        return bool(self.subtypes)


@dataclass(frozen=True)
class BotApiSpec:
    """The methods and types of one Bot API version, read-only."""

    version: str
    methods: Mapping[str, ObjectSpec]
    types: Mapping[str, ObjectSpec]
    _by_lower: Mapping[str, str] = field(repr=False, compare=False)

    @classmethod
    def from_trimmed(cls, trimmed: Mapping[str, Any]) -> BotApiSpec:
        """Build the spec from the trimmed JSON document; fail fast on a malformed one."""
        try:
            version = str(trimmed["version"])
            methods = {name: _object(name, raw) for name, raw in trimmed["methods"].items()}
            types = {name: _object(name, raw) for name, raw in trimmed["types"].items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError("malformed Bot API spec document") from exc
        return cls(
            version=version,
            methods=MappingProxyType(methods),
            types=MappingProxyType(types),
            _by_lower=MappingProxyType({name.lower(): name for name in methods}),
        )

    def method(self, name: str) -> ObjectSpec | None:
        """Find a method by name, case-insensitively as Telegram does."""
        canonical = self._by_lower.get(name.lower())
        return None if canonical is None else self.methods[canonical]


def _object(name: str, raw: Mapping[str, Any]) -> ObjectSpec:
    fields = {
        f["name"]: FieldSpec(
            name=f["name"],
            types=tuple(f["types"]),
            required=bool(f["required"]),
            const=f.get("const"),
        )
        for f in raw.get("fields", ())
    }
    return ObjectSpec(
        name=name,
        fields=MappingProxyType(fields),
        subtypes=tuple(raw.get("subtypes", ())),
        returns=tuple(raw.get("returns", ())),
    )


def trim(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Reduce the full api.json to what validation needs, keeping the license notice."""
    union_members = {member for obj in raw["types"].values() for member in obj.get("subtypes", ())}
    methods = {
        name: {"fields": _trim_fields(obj, discriminated=False), "returns": obj["returns"]}
        for name, obj in raw["methods"].items()
    }
    types: dict[str, Any] = {}
    for name, obj in raw["types"].items():
        if "subtypes" in obj:
            types[name] = {"subtypes": list(obj["subtypes"])}
        else:
            types[name] = {"fields": _trim_fields(obj, discriminated=name in union_members)}
    return {
        "notice": NOTICE,
        "source": SOURCE,
        "license": "MIT",
        "version": raw["version"],
        "release_date": raw.get("release_date", ""),
        "methods": methods,
        "types": types,
    }


def _trim_fields(obj: Mapping[str, Any], *, discriminated: bool) -> list[dict[str, Any]]:
    trimmed: list[dict[str, Any]] = []
    for position, f in enumerate(obj.get("fields", ())):
        entry: dict[str, Any] = {
            "name": f["name"],
            "types": list(f["types"]),
            "required": bool(f["required"]),
        }
        if discriminated and position == 0 and f["name"] in _DISCRIMINATORS:
            match = _CONST.search(f.get("description", ""))
            if match:
                entry["const"] = match.group(1)
        trimmed.append(entry)
    return trimmed


def dumps(trimmed: Mapping[str, Any]) -> str:
    """Serialise a trimmed spec the one way the vendored file is written: a line per field."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = ["{"]
    scalars = [key for key in trimmed if key not in ("methods", "types")]
    lines.extend(f" {one(key)}: {one(trimmed[key])}," for key in scalars)
    for section in ("methods", "types"):
        lines.append(f" {one(section)}: {{")
        entries = list(trimmed[section].items())
        for index, (name, obj) in enumerate(entries):
            head = [f"{one(key)}: {one(value)}" for key, value in obj.items() if key != "fields"]
            if "fields" in obj:
                rows = [f"   {one(f)}" for f in obj["fields"]]
                body = "[\n" + ",\n".join(rows) + "\n  ]" if rows else "[]"
                head.append(f'"fields": {body}')
            comma = "," if index < len(entries) - 1 else ""
            lines.append(f"  {one(name)}: {{{', '.join(head)}}}{comma}")
        lines.append(" }," if section == "methods" else " }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def vendored_text() -> str:
    """Read the vendored trimmed spec shipped as package data."""
    return resources.files(__package__).joinpath(VENDORED_NAME).read_text(encoding="utf-8")


def load_vendored() -> BotApiSpec:
    """Load the spec that ships with the package (no file outside the package is needed)."""
    return BotApiSpec.from_trimmed(json.loads(vendored_text()))


def load_full(path: Path) -> BotApiSpec:
    """Load a full api.json through the same trim the vendored copy went through."""
    return BotApiSpec.from_trimmed(trim(json.loads(path.read_text(encoding="utf-8"))))


def regenerate(source: Path, target: Path | None = None) -> Path:
    """Rewrite the vendored trim from a full api.json; return the file written."""
    destination = target or Path(__file__).with_name(VENDORED_NAME)
    trimmed = trim(json.loads(source.read_text(encoding="utf-8")))
    destination.write_text(dumps(trimmed), encoding="utf-8")
    return destination


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: regenerate the vendored trim from a full api.json."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.devtools.fakeapi.spec", description=__doc__
    )
    parser.add_argument("--regenerate", type=Path, required=True, metavar="API_JSON")
    args = parser.parse_args(argv)
    written = regenerate(args.regenerate)
    spec = BotApiSpec.from_trimmed(json.loads(written.read_text(encoding="utf-8")))
    print(  # noqa: T201 - a command-line report, not a log line
        f"wrote {written} ({spec.version}: {len(spec.methods)} methods, {len(spec.types)} types)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
