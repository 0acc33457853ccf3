"""Web API throughput: the science payload endpoint on 1,000 stored transients.

One simulated transient is run through every task (plain loop, 120" cutouts), then copied under
new names through the export/import dataset (same rows, so every payload is a full one) until
``--n`` transients are stored. A real server (``blast-pipeline serve``) answers
``GET /api/transient/get/<name>?format=json`` to ``--clients`` threads on loopback, each with
its own keep-alive connection, for ``--requests`` requests in all, names drawn at random. Also
times the export of one transient (dataset JSON and the ``.tar.gz``). ``--workers N`` runs
``serve --workers N``.

Latency depends on the machine's load; the server's CPU time per request (user + system, of
the server process and its workers, read from ``/proc`` around the timed requests) does much
less, so it is printed too.

Last line: ``RESULT get_rps=<f> get_p99_ms=<f> n=<n> server_cpu_ms_per_request=<f> workers=<n>``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import register_transients, run_transient  # noqa: E402
from blast_pipeline.db.task_register import initialise_registers  # noqa: E402
from blast_pipeline.db.transients import get_transient  # noqa: E402
from blast_pipeline.export.dataset import export_dataset, import_dataset  # noqa: E402
from blast_pipeline.resources import BlastResource  # noqa: E402
from blast_pipeline.runners.execution import refresh_progress  # noqa: E402
from blast_pipeline.runners.graph import WorkflowGraph  # noqa: E402
from blast_pipeline.tasks import TASK_RUNNERS  # noqa: E402


def fill_database(home: Path, n: int, url: str | None) -> list[str]:
    """``n`` stored transients, all copies of one processed simulated transient."""
    blast = BlastResource(home=str(home), cutout_fov_arcsec=120.0, database_url=url or "")
    services = blast.services()
    graph = WorkflowGraph.from_runners(TASK_RUNNERS)
    (original,) = services.cutouts.generate(1)
    register_transients(services, [original])
    run_transient(original.name, services, graph)
    with services.database.session() as session:
        template = json.dumps(export_dataset(session, get_transient(session, original.name)))
    names = [original.name]
    with services.database.session() as session:
        for i in range(1, n):
            name = f"bench{i:05d}"
            dataset = json.loads(template.replace(original.name, name))
            transient = import_dataset(session, dataset)
            initialise_registers(session, transient, graph.task_names)
            refresh_progress(session, transient, graph)
            names.append(name)
    services.database.dispose()
    return names


def client(port: int, names: list[str], count: int, latencies: list[float], seed: int) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(count):
        name = rng.choice(names)
        start = time.perf_counter()
        connection.request("GET", f"/api/transient/get/{name}?format=json")
        reply = connection.getresponse()
        body = reply.read()
        latencies.append(time.perf_counter() - start)
        if reply.status != 200 or not body.startswith(b'{"transient_id"'):
            raise RuntimeError(f"{name}: HTTP {reply.status}")
    connection.close()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pid: int) -> float:
    """CPU seconds of the server process and every live descendant (uvicorn's workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += _cpu_seconds(current)
        except OSError:
            continue
        todo += children.get(current, [])
    return total


def wait_until_up(port: int, process: subprocess.Popen) -> None:
    for _ in range(3000):
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/openapi.json")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="stored transients")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000, help="in all clients together")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp home")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: the server is stopped and the temporary home removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    with tempfile.TemporaryDirectory(prefix="blast-api-bench-") as tmp:
        home = Path(tmp)
        start = time.perf_counter()
        names = fill_database(home, args.n, args.database_url)
        print(f"{len(names)} transients stored in {time.perf_counter() - start:.0f} s")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BLAST_HOME": str(home)}
        env["BLAST_SKY"] = "none"
        if args.database_url:
            env["BLAST_DATABASE_URL"] = args.database_url
        command = [sys.executable, "-m", "blast_pipeline.cli", "serve", "--port", str(args.port)]
        if args.workers != 1:
            command += ["--workers", str(args.workers)]
        server = subprocess.Popen([*command, "--log-level", "warning"], env=env, cwd=ROOT)
        try:
            wait_until_up(args.port, server)
            for seed in range(4 * args.workers):  # warm up every worker
                client(args.port, names, 10, [], seed=100 + seed)
            latencies: list[float] = []
            per_client = args.requests // args.clients
            threads = [
                threading.Thread(
                    target=client, args=(args.port, names, per_client, latencies, seed)
                )
                for seed in range(args.clients)
            ]
            cpu_before = server_cpu_seconds(server.pid)
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            server_cpu = server_cpu_seconds(server.pid) - cpu_before
            for path, label in (
                (f"/api/transient/export/{names[0]}/", "dataset"),
                (f"/api/transient/export/{names[0]}/all/", "archive"),
            ):
                connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=300)
                t0 = time.perf_counter()
                connection.request("GET", path)
                size = len(connection.getresponse().read())
                print(f"export {label}: {time.perf_counter() - t0:.3f} s, {size} bytes")
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000
    rps = len(latencies) / elapsed
    print(f"{len(latencies)} requests, {args.clients} clients: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    cpu_ms = 1000 * server_cpu / len(latencies)
    print(f"server CPU per request: {cpu_ms:.2f} ms ({args.workers} worker(s))")
    print(
        f"RESULT get_rps={rps:.1f} get_p99_ms={p99:.1f} n={len(names)} "
        f"server_cpu_ms_per_request={cpu_ms:.2f} workers={args.workers}"
    )


if __name__ == "__main__":
    main()
