"""Prometheus metrics at /metrics, in a registry of the app's own.

Each app makes a ``Metrics`` (nothing is registered at import, and nothing in prometheus_client's
global REGISTRY): the request counter and histogram, by route template and status
(``path="/api/{user_id}/tasks"``, never the path with its user id), the count of 503s for an
unavailable database, and gauges read at scrape time while the app runs: the pool's, and those
a feature hands ``watch`` (service.events.live's).

With several uvicorn workers each scrape sees one worker: set PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode) or run one worker per container.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.db.pool import Database

PREFIX = "task_api"
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MULTIPROCESS_VARIABLES = ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir")


class PoolCollector(Collector):
    """The app's asyncpg pool as gauges, read at scrape time: nothing is counted per request."""

    def __init__(self, db: Database):
        self.db = db

    def collect(self) -> Iterator[Metric]:
        pool = self.db.pool
        gauges = (
            ("pool_connections", "Connections the pool holds now", pool.get_size()),
            ("pool_idle_connections", "Pooled connections not lent out", pool.get_idle_size()),
            ("pool_max_connections", "The most connections the pool may hold", pool.get_max_size()),
            ("pool_waiting_requests", "Requests waiting for a pooled connection", self.db.waiting),
        )
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


class Metrics:
    """One app's metrics and the registry /metrics serves them from."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_requests", "HTTP requests answered", ["method", "path", "status_code"], registry=self.registry
        )
        self.request_duration = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Time from a request's arrival to its last byte",
            ["method", "path"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.database_unavailable = Counter(
            f"{PREFIX}_database_unavailable",
            "Requests answered 503 because the database was unreachable, too slow, or the pool full",
            ["error"],
            registry=self.registry,
        )
        self._watched: list[Collector] = []  # gauges read at scrape time, released at the app's stop
        # prometheus_client's labels() validates, converts and locks on every call; a request
        # looks its two series up here instead, once per (method, route, status) ever seen.
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        series = self._series.get((method, path, status))
        if series is None:
            series = (self.requests.labels(method, path, str(status)), self.request_duration.labels(method, path))
            self._series[method, path, status] = series
        series[0].inc()
        series[1].observe(seconds)

    def watch_pool(self, db: Database) -> None:
        """Report ``db``'s pool from now on (the app's start)."""
        self.watch(PoolCollector(db))

    def watch(self, collector: Collector) -> None:
        """Report what ``collector`` reads at each scrape, from now on until ``release``."""
        self.registry.register(collector)
        self._watched.append(collector)

    def release(self) -> None:
        """Stop reporting what is watched (the app's stop), so the registry holds nothing closed."""
        for collector in self._watched:
            self.registry.unregister(collector)
        self._watched.clear()

    def exposition(self) -> bytes:
        """The text format of every series; in multiprocess mode, every worker's, from their files."""
        registry = self.registry
        if any(name in os.environ for name in MULTIPROCESS_VARIABLES):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)


def metrics_route(metrics: Metrics) -> HTTPRouteHandler:
    """GET /metrics for ``metrics``' registry (Litestar's PrometheusController serves the global one)."""

    @get("/metrics", include_in_schema=False, exclude_from_auth=True)
    async def serve_metrics() -> Response[bytes]:
        return Response(metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return serve_metrics
