"""Test helpers shared by the fixtures and tests: real servers, real databases, the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

PG_ENV = "RTK_TEST_DATABASE_URL"
# For tests that run other programs but never touch the database: the PostgreSQL run of
# tests/e2e would only repeat them.
ONCE = pytest.mark.skipif(
    bool(os.environ.get(PG_ENV)), reason="does not use the database: runs in the SQLite run"
)
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"  # reference data kept in the repository (tests/data/README.md)


async def _admin(url: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


@contextmanager
def fresh_postgres_database(url: str) -> Iterator[str]:
    """A new, empty database beside the one `url` names, dropped afterwards, so concurrent
    runs never share state and every run tests the migrations from scratch."""
    name = f"rtk_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    try:
        yield str(make_url(url).set(database=name).render_as_string(hide_password=False))
    finally:
        asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def own_database(directory: Path) -> Iterator[str]:
    """A database of one test's own (SQLite in `directory`, or a fresh PostgreSQL one), for
    servers whose clock or settings must not touch the shared database."""
    url = os.environ.get(PG_ENV)
    if not url:
        yield f"sqlite+aiosqlite:///{directory / 'rtk.db'}"
        return
    with fresh_postgres_database(url) as pg_url:
        yield pg_url


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database `url` names, ending its connections (to test what happens then)."""
    name = make_url(url).database
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


JOBS_ENV = "RTK_TEST_JOBS_URL"


def server_env(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "RTK_"))}
    env.update({"RTK_DATA_DIR": str(data_dir), "RTK_DATABASE_URL": database_url})
    if os.environ.get(JOBS_ENV):
        env["RTK_JOBS_URL"] = os.environ[JOBS_ENV]
    env.update(extra)
    return env


def stop_process_group(proc: subprocess.Popen[Any], grace: float = 20) -> None:
    """SIGTERM the process group `proc` leads, wait `grace` seconds, then SIGKILL whatever of
    the group is left (children included), so nothing outlives the test that started it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def spawned(
    args: list[str], env: dict[str, str] | None, log_path: Path, **popen: Any
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own process group, output to `log_path`; killed with its group when
    the block ends, however it ends."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            args, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            start_new_session=True, **popen,
        )  # fmt: skip
        try:
            yield proc
        finally:
            stop_process_group(proc)


def run_process(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run` in its own process group, which is killed whole on timeout or error."""
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, **kwargs,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop_process_group(proc, grace=5)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def cli(
    env: dict[str, str], *args: str, timeout: float = 120, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """The real `rtk-sessions` CLI, whatever its exit code."""
    return run_process([sys.executable, "-m", "rtk_sessions", *args], env, timeout, **popen)


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run the real `rtk-sessions` CLI; returns stdout."""
    done = cli(env, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Server:
    def __init__(
        self, base_url: str, env: dict[str, str], proc: subprocess.Popen[bytes], log: Path
    ) -> None:
        self.base_url = base_url
        self.env = env
        self.proc = proc
        self.log = log

    def cli(self, *args: str) -> str:
        """Run the real CLI against this server's database; returns stdout."""
        return run_cli(self.env, *args)

    def app_with_joined_peer(self, account: str, peer: str, meeting: str) -> str:
        """A new app in which `peer` joined `meeting`, so its telemetry has a session (and
        nothing of it is pending)."""
        app = f"app-{uuid.uuid4().hex[:8]}"
        token = self.token(account, "ingest", app=app)
        join = {"id": f"j-{peer}", "type": "peer.joined", "meeting_id": meeting,
                "peer_id": peer, "occurred_at": 1_500_000_000_000}  # fmt: skip
        httpx.post(
            f"{self.base_url}/ingest/v1/accounts/{account}/apps/{app}/events",
            json=[join], headers={"Authorization": f"Bearer {token}"}, timeout=30,
        ).raise_for_status()  # fmt: skip
        return app

    def token(self, account: str, *permissions: str, app: str | None = None) -> str:
        args = ["token", "create", "--account", account]
        for p in permissions:
            args += ["--permission", p]
        if app:
            args += ["--app", app]
        return run_cli(self.env, *args).strip().splitlines()[-1]


@contextmanager
def running_server(
    data_dir: Path,
    database_url: str,
    *serve_args: str,
    log_dir: Path | None = None,
    **settings: str,
) -> Iterator[Server]:
    """`rtk-sessions serve` as a real process on a free loopback port, stopped afterwards.
    Its output goes to `server-<port>.log` in `log_dir` (default: the data directory)."""
    port = _free_port()
    env = server_env(data_dir, database_url, RTK_PORT=str(port), **settings)
    log_path = (log_dir or data_dir) / f"server-{port}.log"
    args = [sys.executable, "-m", "rtk_sessions", "serve", *serve_args]
    with spawned(args, env, log_path) as proc:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log_path.read_text()
            time.sleep(0.1)
        else:
            raise AssertionError("server did not become ready in 30 s")
        yield Server(base, env, proc, log_path)


@contextmanager
def running_worker(env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`rtk-sessions worker --workers 1` as a real process, asked to stop with Ctrl-C
    afterwards (its group killed if it has not stopped in 15 s); `returncode` tells how."""
    args = [sys.executable, "-m", "rtk_sessions", "worker", "--workers", "1"]
    with spawned(args, env, log_path) as proc:
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pid: int) -> bool:
    """Not ended (a zombie nobody reaped yet has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextmanager
def s3_bucket(bucket: str) -> Iterator[str]:
    """A moto S3 server on loopback holding an empty `bucket`; yields its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()
