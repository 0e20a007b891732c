"""The load generator's process accounting: a multi-worker server's CPU is its workers' too."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from shopsage.evaluate.load import cpu_seconds, tree_cpu_seconds, wait_idle

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\ntime.sleep(30)\n"


def test_a_childs_cpu_counts_in_the_tree_and_waiting_ends_when_it_is_quiet() -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {BURN.format(s=0.6)!r}])\ntime.sleep(30)\n"])
    try:
        waited = wait_idle(parent.pid, share=0.2, window_s=0.5, timeout_s=30)
        assert waited >= 1.0  # two quiet windows at least, after the child's burn
        assert tree_cpu_seconds(parent.pid) - cpu_seconds(parent.pid) >= 0.5  # the child's 0.6 s
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait()


def test_waiting_on_a_process_that_stays_busy_times_out() -> None:
    busy = subprocess.Popen([sys.executable, "-c", BURN.format(s=30)])
    try:
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match="still busy"):
            wait_idle(busy.pid, share=0.2, window_s=0.3, timeout_s=1.5)
        assert time.monotonic() - t0 < 5
    finally:
        busy.kill()
        busy.wait()
