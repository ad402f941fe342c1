"""Prometheus metrics at /metrics (Litestar's Prometheus controller serves them).

service.observe counts and times requests by route template and status
(``path="/api/{user_id}/tasks"``), never by the path with its user id; the pool is read at
scrape time. With several uvicorn workers each scrape sees one worker: set
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode) or run one worker per container.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import MappingProxyType

from litestar.plugins.prometheus import PrometheusController
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.db.pool import Database

PREFIX = "task_api"

requests = Counter(f"{PREFIX}_requests", "HTTP requests answered", ["method", "path", "status_code"])
request_duration = Histogram(
    f"{PREFIX}_request_duration_seconds",
    "Time from a request's arrival to its last byte",
    ["method", "path"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
database_unavailable = Counter(
    f"{PREFIX}_database_unavailable",
    "Requests answered 503 because the database was unreachable, too slow, or the pool full",
    ["error"],
)


def observe_request(method: str, path: str, status: int, seconds: float) -> None:
    requests.labels(method, path, str(status)).inc()
    request_duration.labels(method, path).observe(seconds)


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
    opt = MappingProxyType({"exclude_from_auth": True})


class PoolCollector(Collector):
    """The process's asyncpg pools as gauges, read at scrape time: nothing is counted per request.

    A process serves one app; tests run several at once, so the collector sums the pools it watches.
    """

    def __init__(self) -> None:
        self.databases: list[Database] = []

    def collect(self) -> Iterator[Metric]:
        pools = [db.pool for db in self.databases]
        gauges = (
            ("pool_connections", "Connections the pool holds now", sum(p.get_size() for p in pools)),
            ("pool_idle_connections", "Pooled connections not lent out", sum(p.get_idle_size() for p in pools)),
            ("pool_max_connections", "The most connections the pool may hold", sum(p.get_max_size() for p in pools)),
            (
                "pool_waiting_requests",
                "Requests waiting for a pooled connection",
                sum(db.waiting for db in self.databases),
            ),
        )
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value)


pools = PoolCollector()
REGISTRY.register(pools)
