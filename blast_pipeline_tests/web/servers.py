"""Starting and stopping the servers of the browser test (Dagster webserver and daemon, the
project's web service) as child processes on free localhost ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A child process in the repository root (the workspace.yaml location), output to ``log``."""
    handle = log.open("wb")
    return subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=handle, start_new_session=True
    )


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float, log: Path) -> None:
    """Poll ``url`` until it answers 200; fail with the log's tail if the process dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {timeout_s:g} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """Terminate one child and the processes it started (its own session: the code servers of
    the webserver and daemon), then kill them if they do not stop."""
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            time.sleep(0.5)  # let grandchildren of the group exit too
        except subprocess.TimeoutExpired:
            continue
