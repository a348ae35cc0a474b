"""Judge the project's speed and memory goals and print the results table."""

from __future__ import annotations

from typing import Any

MEMORY_LIMIT_MB = 100.0
# "Never blocked" is judged as no wake-up later than this.  100 ms is ten
# missed 10 ms ticks: far below systemd's watchdog and APScheduler's misfire
# grace times, but long enough to notice any whole-table stall.
LAG_LIMIT_MS = 100.0
OURS = "taskagent-backup"


def _step(results: dict[str, Any], key: str, name: str) -> dict[str, Any] | None:
    return next((step for step in results[key] if step["name"] == name), None)


def _faster(goal: str, ours: dict[str, Any] | None, theirs: dict[str, Any] | None,
            allow_equal: bool) -> dict[str, Any]:
    if not ours or not theirs or ours.get("seconds") is None or theirs.get("seconds") is None:
        return {"goal": goal, "met": None, "measured": "not measured"}
    ratio = ours["seconds"] / theirs["seconds"]
    met = ratio <= 1.0 if allow_equal else ratio < 1.0
    measured = f"{ours['seconds']} s vs {theirs['seconds']} s"
    if ours.get("backup_seconds") is not None:
        measured += f" (backup phase alone {ours['backup_seconds']} s)"
    return {"goal": goal, "met": met, "ratio": round(ratio, 2), "measured": measured}


def _memory(results: dict[str, Any]) -> dict[str, Any]:
    ours = [step for key in ("backups", "restores", "event_loop_lag") for step in results[key]
            if OURS in step["name"] or step["name"].startswith("lag probe")]
    peaks = [step["max_rss_mb"] for step in ours if step.get("max_rss_mb") is not None]
    if not peaks:
        return {"goal": "memory under 100 MB", "met": None, "measured": "not measured"}
    return {
        "goal": f"memory under {MEMORY_LIMIT_MB:.0f} MB", "met": max(peaks) < MEMORY_LIMIT_MB,
        "measured": f"largest peak RSS {max(peaks)} MB",
    }


def _lag(results: dict[str, Any]) -> dict[str, Any]:
    lags = [step["lag"] for step in results["event_loop_lag"] if "lag" in step]
    if not lags:
        return {"goal": "event loop never blocked", "met": None, "measured": "not measured"}
    worst = max(lag["max_ms"] for lag in lags)
    worst_p99 = max(lag["p99_ms"] for lag in lags)
    return {
        "goal": f"event loop never blocked (no wake-up over {LAG_LIMIT_MS:.0f} ms late)",
        "met": worst < LAG_LIMIT_MS,
        "measured": f"max lag {worst} ms, p99 {worst_p99} ms",
    }


def judge_goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Return each goal with what was measured and whether it was met (None: not measured)."""
    return [
        _faster("compressed backup faster than pg_dump -Fc",
                _step(results, "backups", f"{OURS} zstd"),
                _step(results, "backups", "pg_dump -Fc"), allow_equal=False),
        _faster("restore as fast as pg_restore (data only)",
                _step(results, "restores", f"{OURS} restore (data only)"),
                _step(results, "restores", "pg_restore --data-only"), allow_equal=True),
        _memory(results),
        _lag(results),
    ]


def _megabytes(value: Any) -> str:
    return f"{value / 1024 / 1024:.1f}" if isinstance(value, int) else "-"


def _row(step: dict[str, Any]) -> str:
    seconds = f"{step['seconds']:.2f}" if step.get("seconds") is not None else "-"
    rss = f"{step['max_rss_mb']:.1f}" if step.get("max_rss_mb") is not None else "-"
    if "lag" in step:
        note = (f"lag max {step['lag']['max_ms']} ms, p99 {step['lag']['p99_ms']} ms, "
                f"backup phase {step['backup_seconds']} s")
    elif step.get("backup_seconds") is not None:
        note = f"backup phase {step['backup_seconds']} s"
    elif "exact" in step:
        note = "exact" if step["exact"] else "DIFFERS: " + "; ".join(step["problems"][:2])
    else:
        note = step.get("status", "") if step.get("returncode") is None else (
            "" if step["returncode"] == 0 else f"exit {step['returncode']}")
    return (f"{step['name']:<44} {seconds:>8} {rss:>9} "
            f"{_megabytes(step.get('bytes')):>9}  {note}")


def print_table(results: dict[str, Any]) -> None:
    """Print every step and every goal as aligned text."""
    dataset = results["dataset"]
    print(f"\n{dataset['total_rows']} rows in {len(dataset['tables'])} tables, "
          f"database {dataset['database_mb']} MB")
    print(f"{'step':<44} {'seconds':>8} {'peak MB':>9} {'size MB':>9}  note")
    for key in ("backups", "event_loop_lag", "restores"):
        for step in results[key]:
            print(_row(step))
    print()
    for goal in results["goals"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[goal["met"]]
        print(f"{verdict:<13} {goal['goal']}: {goal['measured']}")
