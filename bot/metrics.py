"""Count what the bot does, for Prometheus, without content, ids or per-person labels.

A metric label that named a chat, a report or a pseudonym would turn the monitoring system
into a list of who wrote when; so every label here takes values from a small fixed set (an
update kind, an exception class name, a job name), and nothing is labelled by time finer than
the scrape. Each process owns its own registry (never prometheus_client's global one), built
by the composition root and passed to whoever counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

UPDATE_KINDS: Final = frozenset(
    {"message", "edited_message", "callback_query", "my_chat_member", "other"}
)
"""The only values of the ``kind`` label: anything else is counted as ``other``."""

LATENCY_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
"""Seconds from an update's arrival to its last reply; 15 s is Telegram's limit for answering
a button press."""

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST


@dataclass(eq=False)
class Metrics:
    """The bot's counters and histogram, in a registry of their own (compared by identity)."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=True)
    )

    def __post_init__(self) -> None:
        """Register every metric up front, so a scrape shows zeros rather than gaps."""
        self.updates = Counter(
            "amanat_updates",
            "Updates received, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.handling_seconds = Histogram(
            "amanat_update_handling_seconds",
            "Seconds from taking an update (its chat's earlier updates included) to its end.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reports_submitted = Counter(
            "amanat_reports_submitted", "Reports stored.", registry=self.registry
        )
        self.errors = Counter(
            "amanat_errors",
            "Updates that failed, by exception type (no message, no content).",
            ["type"],
            registry=self.registry,
        )
        self.job_runs = Counter(
            "amanat_job_runs",
            "Runs of the background jobs, by job and outcome.",
            ["job", "outcome"],
            registry=self.registry,
        )
        for kind in sorted(UPDATE_KINDS):
            self.updates.labels(kind=kind)

    def count_update(self, kind: str) -> None:
        """Count one update; an unknown kind is ``other``, never a new label value."""
        self.updates.labels(kind=kind if kind in UPDATE_KINDS else "other").inc()

    def count_error(self, error: BaseException | None) -> None:
        """Count a failed update by its exception's class name only."""
        name = type(error).__name__ if error is not None else "None"
        self.errors.labels(type=name[:64]).inc()

    def count_job(self, job: str, outcome: str) -> None:
        """Count a run of a background job (``ok``, ``failed`` or ``skipped``)."""
        self.job_runs.labels(job=job, outcome=outcome).inc()

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
