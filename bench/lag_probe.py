"""Take one backup with ``run_once`` while measuring the event loop's lag.

Run by ``run_benchmark.py`` as a child process, so the lag monitor shares
the event loop with the backup exactly as a scheduler job would::

    python bench/lag_probe.py --config CONFIG --output RESULTS.jsonl

Appends the lag report and the backup's size and duration as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from taskagent_backup.logging_setup import configure_logging
from taskagent_backup.looplag import LoopLagMonitor
from taskagent_backup.run_once import run_once
from taskagent_backup.settings import load_settings


async def probe(config: Path) -> dict[str, object]:
    """Run one manual backup under a ``LoopLagMonitor`` and return the results."""
    settings = load_settings(config)
    async with LoopLagMonitor() as monitor:
        result = await run_once(settings, "manual")

    return {
        "lag": monitor.report().as_dict(),
        "file": str(result.path),
        "bytes": result.bytes,
        "rows": result.rows,
        "backup_seconds": round(result.seconds, 2),
    }


def main() -> int:
    """Parse the arguments, run the probe and append its JSON result."""
    parser = argparse.ArgumentParser(description="Measure event loop lag during one backup.")
    parser.add_argument("--config", type=Path, required=True, help="backup TOML configuration")
    parser.add_argument("--output", type=Path, required=True,
                        help="JSON lines file that the result is appended to")
    arguments = parser.parse_args()
    configure_logging("warning")

    results = asyncio.run(probe(arguments.config))
    with arguments.output.open("a") as output:
        output.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
