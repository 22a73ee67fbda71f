"""Every test the docs name exists: a security claim must point at a proof that can fail."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = [
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "README.md",
    REPO / "benchmarks" / "README.md",
]
# `tests/test_x.py::test_name`, and `::test_other` right after it in the same cell or line.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def named_tests() -> list[tuple[str, str, str | None]]:
    """(doc, test file, test name or None) for every reference, resolving `::name` shorthand."""
    found = []
    for doc in DOCS:
        for line in doc.read_text(encoding="utf-8").splitlines():
            current: str | None = None
            for match in REFERENCE.finditer(line):
                if match.group(1):
                    current = match.group(1)
                    found.append((doc.name, current, match.group(2)))
                elif current is not None:
                    found.append((doc.name, current, match.group(3)))
    return found


def test_every_test_the_docs_name_exists() -> None:
    references = named_tests()
    assert len(references) > 50, "the docs name their proofs"
    missing = []
    for doc, file, name in references:
        path = REPO / file
        if not path.is_file():
            missing.append(f"{doc}: {file}")
        elif name is not None and name not in defined_tests(path):
            missing.append(f"{doc}: {file}::{name}")
    assert not missing, "\n".join(missing)
