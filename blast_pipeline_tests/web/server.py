"""A real ``blast-pipeline serve`` on 127.0.0.1 (a free port) in a subprocess, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(
    env: dict[str, str], timeout: float = 120.0, log: Path | None = None
) -> Iterator[str]:
    """Start the server with ``env`` added to this environment; yield its base URL; stop it.
    ``log``: a file receiving the server's output (access log at info level)."""
    port = free_port()
    full = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    level = "info" if log else "warning"
    out = log.open("w") if log else None
    command = ["-m", "blast_pipeline.cli", "serve", "--port", str(port), "--log-level", level]
    process = subprocess.Popen(
        [sys.executable, *command],
        env=full,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/openapi.json", timeout=5).read()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server on port {port} did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if out:
            out.close()
