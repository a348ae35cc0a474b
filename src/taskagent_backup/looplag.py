"""Opt-in event loop lag monitor, used by the benchmark.

A coroutine sleeps ``interval_seconds`` in a loop and records how much later
than asked it wakes.  That delay is the time the event loop spent on other
work without yielding, so its maximum is the longest stall any coroutine
(a scheduler job, an sd_notify watchdog ping) would have seen.  Nothing in
the daemon starts it; a caller wraps the work to observe::

    async with LoopLagMonitor() as monitor:
        await run_once(settings, "manual")
    print(monitor.report().max_ms)
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from types import TracebackType

DEFAULT_INTERVAL_SECONDS = 0.010


@dataclass(frozen=True)
class LagReport:
    """Wake-up delays of one monitored period, in milliseconds."""

    samples: int
    max_ms: float
    p99_ms: float
    mean_ms: float
    interval_ms: float

    def as_dict(self) -> dict[str, float | int]:
        """Return the report as plain JSON-ready values, rounded to 0.01 ms."""
        return {
            "samples": self.samples,
            "max_ms": round(self.max_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "mean_ms": round(self.mean_ms, 2),
            "interval_ms": round(self.interval_ms, 2),
        }


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ascending ``sorted_values``.

    ``fraction`` is in (0, 1]; an empty list gives 0.0.
    """
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


class LoopLagMonitor:
    """Measure event loop lag while the ``async with`` block runs.

    Must be entered inside a running event loop.  Lags are kept in memory,
    one float per wake-up: 100 per second at the default interval.
    """

    def __init__(self, interval_seconds: float = DEFAULT_INTERVAL_SECONDS) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self.interval_seconds = interval_seconds
        self._lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLagMonitor:
        self._task = asyncio.create_task(self._sample(), name="loop-lag-monitor")
        # Let the sampler take its first timestamp before the observed work starts.
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            # wait() never raises the sampler's CancelledError, so a
            # cancellation of the caller itself still propagates.
            await asyncio.wait([self._task])
            self._task = None

    async def _sample(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval_seconds)
            late = time.perf_counter() - before - self.interval_seconds
            self._lags.append(max(late, 0.0))

    def report(self) -> LagReport:
        """Summarize the lags recorded so far."""
        ordered = sorted(self._lags)
        count = len(ordered)
        return LagReport(
            samples=count,
            max_ms=ordered[-1] * 1000 if ordered else 0.0,
            p99_ms=percentile(ordered, 0.99) * 1000,
            mean_ms=sum(ordered) / count * 1000 if count else 0.0,
            interval_ms=self.interval_seconds * 1000,
        )
