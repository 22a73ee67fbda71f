"""Measure what one update costs a reporter who already told a long story, against a short one.

Run ``python benchmarks/conversation.py`` (``--quick`` for a smoke run). A reporter's draft
used to be one blob holding every sealed message: each update decrypted, re-encrypted and
rewrote all of it, so 3,000 story messages made every further update about 0.3 s. Now each
update reads and writes two small records and adds its own item, so the cost should not grow
with the story. The baseline, a draft with 3 story messages, is measured in the same run,
with the same service, store and number of updates; the figure that matters is the ratio.

It drives the real intake service (the embedded default: conversations in this process's
memory, reports in a fresh SQLite file in a temporary folder), prints readable figures and,
as its last line, one JSON object. It only measures: nothing is asserted about time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.app import Services, open_services
from bot.crypto.keyfile import AdminPrivateKey
from bot.crypto.server import generate_server_secret
from bot.intake.service import Inbound
from bot.intake.values import Command, Event, Pressed, Typed
from bot.questions import find_question
from bot.settings import Settings

STORY_LINE = "They said the pay was good and the work was far away. " * 4  # about 230 letters
STORY_PROMPT = find_question("narrative").prompt  # type: ignore[union-attr]


class Reporter:
    """One person talking to the service, answering with the first button until the story."""

    def __init__(self, services: Services, user_id: int) -> None:
        self.services = services
        self.user_id = user_id
        self.update_id = user_id * 1_000_000
        self.buttons: list[str] = []
        self.shown: set[str] = set()

    async def send(self, event: Event) -> None:
        self.update_id += 1
        handled = await self.services.intake.handle(
            Inbound("telegram", self.user_id, event, self.update_id, "en")
        )
        buttons = [b.data for r in handled.replies for row in r.keyboard for b in row]
        if buttons:
            self.buttons = buttons
            self.shown = {p.msgid for r in handled.replies for p in r.parts}

    def press(self, fragment: str) -> Pressed:
        return Pressed(next(b for b in self.buttons if fragment in b))

    async def reach_the_story(self) -> None:
        await self.send(Command("start"))
        await self.send(self.press("l:en"))  # every first contact picks a language
        await self.send(self.press("m:report"))
        for _ in range(40):
            if STORY_PROMPT in self.shown:
                return
            if any(":s:" in b for b in self.buttons):
                await self.send(self.press(":s:"))  # another free-text question: skip it
            elif any(":t:" in b for b in self.buttons):
                await self.send(self.press(":t:"))
                await self.send(self.press(":d:"))
            else:
                await self.send(Pressed(self.buttons[0]))
        raise RuntimeError("the story question never came")


async def timed_updates(reporter: Reporter, updates: int) -> list[float]:
    """Send ``updates`` more story messages; return each one's seconds."""
    took = []
    for number in range(updates):
        start = time.perf_counter()
        await reporter.send(Typed(f"{STORY_LINE} ({number})"))
        took.append(time.perf_counter() - start)
    return took


async def measure(story_lengths: tuple[int, int], updates: int) -> dict[str, object]:
    """Build two reporters with stories of the given lengths; time the same further updates."""
    with tempfile.TemporaryDirectory() as folder:
        key = AdminPrivateKey.generate()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite:///{folder}/amanat.db",
            data_dir=Path(folder) / "data",
            admin_public_keys=(key.public_key().to_text(),),
            server_secret=base64.b64encode(generate_server_secret()).decode(),
            flood_limit=10_000,
            min_free_disk_bytes=0,
        )
        async with open_services(settings) as services:
            figures: dict[str, object] = {}
            for user_id, length in enumerate(story_lengths, start=1):
                reporter = Reporter(services, user_id)
                await reporter.reach_the_story()
                for number in range(length):
                    await reporter.send(Typed(f"{STORY_LINE} [{number}]"))
                await timed_updates(reporter, min(updates, 20))  # warm up
                took = await timed_updates(reporter, updates)
                figures[f"story_{length}_median_ms"] = round(statistics.median(took) * 1000, 3)
                figures[f"story_{length}_p90_ms"] = round(
                    statistics.quantiles(took, n=10)[-1] * 1000, 3
                )
        return figures


def main() -> None:
    """Print the figures, then the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args()
    short, long = (3, 300) if args.quick else (3, 3000)
    updates = 30 if args.quick else 200
    figures = asyncio.run(measure((short, long), updates))
    short_ms = float(str(figures[f"story_{short}_median_ms"]))
    long_ms = float(str(figures[f"story_{long}_median_ms"]))
    ratio = round(long_ms / short_ms, 3)
    print(f"one more story message, after {short} messages: {short_ms} ms (median)")
    print(f"one more story message, after {long} messages: {long_ms} ms (median)")
    print(f"ratio (long story / short story, medians of {updates} updates): {ratio}")
    print(
        json.dumps({**figures, "short": short, "long": long, "ratio": ratio, "quick": args.quick})
    )


if __name__ == "__main__":
    main()
