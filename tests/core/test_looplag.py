"""The event loop lag monitor measures stalls of a real running loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from taskagent_backup.looplag import LoopLagMonitor, percentile


def test_percentile_empty_returns_zero() -> None:
    assert percentile([], 0.99) == 0.0


def test_percentile_nearest_rank_picks_value() -> None:
    values = [float(number) for number in range(1, 101)]

    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile(values, 0.001) == 1.0


def test_monitor_zero_interval_raises() -> None:
    with pytest.raises(ValueError, match="interval_seconds"):
        LoopLagMonitor(interval_seconds=0)


async def test_monitor_blocking_call_reports_stall() -> None:
    async with LoopLagMonitor(interval_seconds=0.005) as monitor:
        await asyncio.sleep(0.03)
        time.sleep(0.2)  # blocks the loop on purpose
        await asyncio.sleep(0.03)

    report = monitor.report()

    assert report.samples >= 3
    assert report.max_ms >= 150
    assert report.p99_ms <= report.max_ms


async def test_monitor_idle_loop_reports_small_lag() -> None:
    async with LoopLagMonitor(interval_seconds=0.005) as monitor:
        await asyncio.sleep(0.1)

    report = monitor.report()

    assert report.samples >= 5
    assert report.max_ms < 100


async def test_monitor_exit_stops_sampling() -> None:
    async with LoopLagMonitor(interval_seconds=0.005) as monitor:
        await asyncio.sleep(0.03)
    count = monitor.report().samples

    await asyncio.sleep(0.05)

    assert monitor.report().samples == count
