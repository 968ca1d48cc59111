"""Prometheus metrics: what every process records, and the text the /metrics scrape serves.

One process keeps its metrics in memory. Several processes on one host (`serve` beside
`rtk-sessions worker`) share RTK_METRICS_DIR: each writes its own files there and the scrape
adds them up (prometheus_client's multi-process mode). docs/operations.md lists every metric.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
UNMATCHED_ROUTE = "unmatched"
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)


class _Metrics:
    def __init__(self) -> None:
        http = ["method", "route", "status"]
        self.requests = Counter(
            "rtk_http_requests_total", "HTTP requests by method, route template and status.", http
        )
        self.latency = Histogram(
            "rtk_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response.",
            http,
            buckets=_HTTP_BUCKETS,
        )
        self.events = Counter(
            "rtk_events_total",
            "Ingested events: accepted (new), duplicate (id seen before), refused (the batch "
            "failed validation; nothing of it was stored).",
            ["outcome"],
        )
        self.job_runs = Counter("rtk_job_runs_total", "Jobs run, by kind.", ["kind"])
        self.job_failures = Counter(
            "rtk_job_failures_total", "Jobs that failed, by kind.", ["kind"]
        )
        self.job_seconds = Histogram(
            "rtk_job_duration_seconds", "How long a job ran.", ["kind"], buckets=_JOB_BUCKETS
        )
        self.rate_limited = Counter(
            "rtk_rate_limit_refusals_total", "Requests refused by a rate limit (429).", ["kind"]
        )
        self.background_passes = Counter(
            "rtk_background_passes_total",
            "Passes of the idle sweep and of upkeep, in the one process of the deployment that "
            "runs them.",
            ["loop"],
        )


_metrics: _Metrics | None = None
_directory = ""


def configure(directory: str, *, owner: bool) -> None:
    """Where this process keeps its metrics: in memory (`directory` empty) or in files there.

    Call before the first metric is recorded; the first choice stands for the process. The
    `owner` (the serving process) removes files left by processes that no longer run.
    """
    global _metrics, _directory
    if _metrics is not None:
        return
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        if owner:
            remove_dead_files(path)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
        # prometheus_client picks its storage when first imported; choose again now.
        prometheus_values.ValueClass = prometheus_values.get_value_class()  # type: ignore[no-untyped-call]
        _directory = str(path)
    disable_created_metrics()  # type: ignore[no-untyped-call]  # one more series each, unused
    _metrics = _Metrics()


def _get() -> _Metrics:
    if _metrics is None:
        configure("", owner=False)
    assert _metrics is not None
    return _metrics


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return pid != os.getpid()  # a file with our pid is left by an earlier process


def remove_dead_files(directory: Path) -> int:
    """Delete the files (`<type>_<pid>.db`) of processes that are gone; returns how many."""
    removed = 0
    for file in directory.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            file.unlink(missing_ok=True)
            removed += 1
    return removed


# --- recording --------------------------------------------------------------------------


def request_finished(method: str, route: str, status: int, seconds: float) -> None:
    m = _get()
    m.requests.labels(method, route, str(status)).inc()
    m.latency.labels(method, route, str(status)).observe(seconds)


def events_stored(accepted: int, duplicates: int) -> None:
    m = _get()
    m.events.labels("accepted").inc(accepted)
    m.events.labels("duplicate").inc(duplicates)


def events_refused(count: int) -> None:
    _get().events.labels("refused").inc(count)


def rate_limited(kind: str) -> None:
    """A request refused by the rate limit `kind` (a fixed name from the code, never input)."""
    _get().rate_limited.labels(kind).inc()


def background_pass(loop: str) -> None:
    """One pass of a deployment-wide loop (`sweep`, `upkeep`) done by this process."""
    _get().background_passes.labels(loop).inc()


def job_failed(kind: str) -> None:
    """For jobs that record their own failure instead of raising."""
    _get().job_failures.labels(kind).inc()


@contextlib.contextmanager
def job_run(kind: str) -> Iterator[None]:
    """Count one run of a `kind` job, its duration, and a failure if it raises."""
    m = _get()
    m.job_runs.labels(kind).inc()
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        m.job_failures.labels(kind).inc()
        raise
    finally:
        m.job_seconds.labels(kind).observe(time.perf_counter() - started)


def counted_job(kind: str, fn: Callable[..., None]) -> Callable[..., None]:
    """`fn` as a job whose every run is counted under `kind`."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> None:
        with job_run(kind):
            fn(*args, **kwargs)

    return run


# --- exposition -------------------------------------------------------------------------


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """A value read at scrape time (queue depth, pending events)."""
    return GaugeMetricFamily(name, documentation, value=value)


class _Readings:
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


def exposition(readings: list[GaugeMetricFamily]) -> bytes:
    """Prometheus text: every process's metrics (multi-process mode) or this one's, and
    `readings` taken for this scrape."""
    _get()
    if _directory:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=_directory)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    extra = CollectorRegistry()
    extra.register(_Readings(readings))
    return text + generate_latest(extra)
