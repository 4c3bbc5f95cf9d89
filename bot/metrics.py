"""What `GET /metrics` says, in Prometheus's text format: counts and times, never
anything about anyone. Each bot process has its own registry (counters since it
started); the backlog is read from the database when Prometheus asks."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from bot.store.health import Backlog

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Seconds: a reply that feels instant is handled in well under a tenth of one.
HANDLING_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.updates_handled = Counter(
            "spbot_updates_handled", "Updates handled (each once, whichever instance)",
            registry=registry,
        )  # fmt: skip
        self.handling_seconds = Histogram(
            "spbot_update_handling_seconds", "Time to handle one update (one transaction)",
            buckets=HANDLING_BUCKETS, registry=registry,
        )  # fmt: skip
        self.delivery_errors = Counter(
            "spbot_delivery_errors", "Bot API calls that failed, by kind",
            ["kind"], registry=registry,
        )  # fmt: skip
        self.database_up = Gauge(
            "spbot_database_up", "1 if the database answered just now", registry=registry
        )
        self.outbox_backlog = Gauge(
            "spbot_outbox_backlog", "Messages not yet sent", registry=registry
        )
        self.oldest_unsent = Gauge(
            "spbot_outbox_oldest_unsent_seconds", "How long the oldest unsent message has waited",
            registry=registry,
        )  # fmt: skip
        self.inbox_waiting = Gauge(
            "spbot_inbox_waiting", "Updates kept and not yet handled (the queue)",
            registry=registry,
        )  # fmt: skip
        self.due_check_ins = Gauge(
            "spbot_check_ins_due", "Check-ins due and not yet sent", registry=registry
        )
        self.unseen_alerts = Gauge(
            "spbot_alerts_unseen", "Safety alerts nobody has marked Seen", registry=registry
        )
        self.other_instances = Gauge(
            "spbot_other_instances_running",
            "1 if this instance's heartbeat saw others running on its database",
            registry=registry,
        )

    def handled(self, seconds: float) -> None:
        self.updates_handled.inc()
        self.handling_seconds.observe(seconds)

    def delivery_error(self, kind: str) -> None:
        self.delivery_errors.labels(kind=kind).inc()

    def render(self, backlog: Backlog | None) -> bytes:
        """The text Prometheus reads; `backlog` None: the database did not answer."""
        self.database_up.set(0 if backlog is None else 1)
        if backlog is not None:
            self.outbox_backlog.set(backlog.outbox)
            self.oldest_unsent.set(backlog.oldest_unsent_seconds)
            self.inbox_waiting.set(backlog.inbox)
            self.due_check_ins.set(backlog.due_check_ins)
            self.unseen_alerts.set(backlog.unseen_alerts)
        return generate_latest(self.registry)
