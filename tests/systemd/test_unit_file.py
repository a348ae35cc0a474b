"""The shipped unit file passes systemd-analyze's checks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = "taskagent-backupd.service"
UNIT_FILE = Path(__file__).resolve().parents[2] / "deploy" / "systemd" / UNIT
MAX_EXPOSURE = 2.0

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


def _unit_with_local_exec_start(directory: Path) -> Path:
    # verify checks that ExecStart= exists, so point it at this virtualenv.
    executable = Path(sys.prefix) / "bin" / "taskagent-backupd"
    text = re.sub(r"(?m)^ExecStart=\S+", f"ExecStart={executable}", UNIT_FILE.read_text())
    path = directory / UNIT
    path.write_text(text)
    return path


def test_unit_file_verify_no_warnings(tmp_path: Path) -> None:
    path = _unit_with_local_exec_start(tmp_path)

    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, cwd=tmp_path
    )

    assert result.stderr == ""
    assert result.returncode == 0


def test_unit_file_security_exposure_low(tmp_path: Path) -> None:
    path = _unit_with_local_exec_start(tmp_path)

    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(path)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)

    assert match is not None, result.stdout + result.stderr
    assert float(match[1]) <= MAX_EXPOSURE, result.stdout


def test_unit_file_required_settings_present() -> None:
    text = UNIT_FILE.read_text()
    required = [
        "Type=notify", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure", "StateDirectory=", "ConfigurationDirectory=", "LoadCredential=",
        "DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
        "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "SystemCallFilter=@system-service",
    ]
    for setting in required:
        assert setting in text, setting
