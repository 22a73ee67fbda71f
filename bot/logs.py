"""Configure logging so that nothing a person wrote, and no token, can reach a log line.

python-telegram-bot logs every API call's parameters and results at DEBUG (update texts
included) and httpx logs request URLs (which contain the bot token) at INFO; this module keeps
those loggers quiet whatever level Amanat itself runs at. Amanat's own code logs only update
ids, states and exception types.

Records go to stderr, except while the local simulator runs: its terminal is the chat, so
:func:`logging_to_file` sends them to a file instead (see :mod:`bot.devtools.simulator`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Loggers of libraries that print message contents, parameters or the token in their URLs.
_TALKATIVE = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    "apscheduler": logging.WARNING,
    "sqlalchemy.engine": logging.WARNING,
    # aiosqlite logs every statement with its parameters (pseudonyms, report ids, times).
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
}


def configure_logging(level: str, *, to_terminal: bool = True) -> None:
    """Set Amanat's level and cap the libraries that would log what people wrote.

    ``to_terminal=False`` only sets the levels: the caller sends records elsewhere
    (:func:`logging_to_file`), and nothing is printed on stderr meanwhile.
    """
    if to_terminal:
        logging.basicConfig(format=FORMAT)
    logging.getLogger().setLevel(level)
    for name, floor in _TALKATIVE.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))


@contextmanager
def logging_to_file(path: Path) -> Iterator[None]:
    """Send every log record, and Python's warnings, to ``path`` while the context lasts.

    The file is made readable by its owner only (0600) and appended to, so that the records
    of earlier runs stay for reading. The levels are those :func:`configure_logging` set.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    stream = os.fdopen(descriptor, "a", encoding="utf-8")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        handler.close()
        stream.close()
