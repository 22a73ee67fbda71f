"""Configure logging so that nothing a person wrote, and no token, can reach a log line.

python-telegram-bot logs every API call's parameters and results at DEBUG (update texts
included) and httpx logs request URLs (which contain the bot token) at INFO; this module keeps
those loggers quiet whatever level Amanat itself runs at. Amanat's own code logs only update
ids, states and exception types.
"""

from __future__ import annotations

import logging

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


def configure_logging(level: str) -> None:
    """Set Amanat's level and cap the libraries that would log what people wrote."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(level)
    for name, floor in _TALKATIVE.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))
