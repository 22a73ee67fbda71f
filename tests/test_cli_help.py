"""Every command explains itself with an example a new admin can copy."""

from __future__ import annotations

from typing import Any

import typer.main
from typer.testing import CliRunner

from bot.cli.main import create_app


def leaf_commands() -> list[list[str]]:
    """Every runnable command's words, e.g. ["admin", "show"]."""
    root = typer.main.get_command(create_app())
    found: list[list[str]] = []

    def walk(command: Any, words: list[str]) -> None:
        children = getattr(command, "commands", None)  # a group (Typer carries its own click)
        if children:
            for name, child in children.items():
                walk(child, [*words, name])
        else:
            found.append(words)

    walk(root, [])
    return found


def test_every_command_has_an_example_in_its_help() -> None:
    commands = leaf_commands()
    assert len(commands) >= 22
    missing = []
    for words in commands:
        result = CliRunner().invoke(create_app(), [*words, "--help"])
        assert result.exit_code == 0, (words, result.output)
        if f"Example: amanat {' '.join(words)}" not in result.output:
            missing.append(" ".join(words))
    assert missing == []
