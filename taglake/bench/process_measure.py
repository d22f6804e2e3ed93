"""One process measured as the benchmarks measure a build (a dbt build, the plain script): wall and CPU seconds and
its own peak memory."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def _vm_hwm(pid: int) -> int | None:
    """The peak RSS (VmHWM, bytes) of a live process since its exec, or None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def run_measured(cmd: list[str], *, cwd: Path, env: dict[str, str], log_file: Path) -> tuple[int, float, int, float]:
    """Run `cmd` with its output in `log_file`; its exit code, wall seconds, peak RSS in bytes and CPU seconds (user +
    system). dbt-duckdb runs DuckDB inside the dbt process (and the plain script inside its own), so that process's
    peak is the build's. It is read from /proc (VmHWM, a
    high-water mark, polled while the build runs), because wait4's ru_maxrss also counts the forked copy of this
    process before exec; that is the fallback where /proc is missing."""
    hwm = 0
    with log_file.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                hwm = max(hwm, _vm_hwm(proc.pid) or 0)
                time.sleep(0.1)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, hwm or usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime
