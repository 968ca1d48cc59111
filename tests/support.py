"""Test helpers shared by the fixtures and tests: real servers, real databases, the CLI."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

PG_ENV = "RTK_TEST_DATABASE_URL"
ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The shared reference data: RTK_SHARED_DATA, ../shared/data beside the checkout, or the
    workplace's /work/shared/data (CI may clone elsewhere)."""
    candidates = [os.environ.get("RTK_SHARED_DATA", ""), ROOT.parent / "shared" / "data",
                  "/work/shared/data"]  # fmt: skip
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return ROOT.parent / "shared" / "data"


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


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run the real `rtk-sessions` CLI; returns stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "rtk_sessions", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class Server:
    def __init__(self, base_url: str, env: dict[str, str], proc: subprocess.Popen[bytes]) -> None:
        self.base_url = base_url
        self.env = env
        self.proc = proc

    def cli(self, *args: str) -> str:
        """Run the real CLI against this server's database; returns stdout."""
        return run_cli(self.env, *args)

    def token(self, account: str, *permissions: str, app: str | None = None) -> str:
        args = ["token", "create", "--account", account]
        for p in permissions:
            args += ["--permission", p]
        if app:
            args += ["--app", app]
        return run_cli(self.env, *args).strip().splitlines()[-1]


@contextmanager
def running_server(data_dir: Path, database_url: str, **settings: str) -> Iterator[Server]:
    """`rtk-sessions serve` as a real process on a free loopback port, stopped afterwards."""
    port = _free_port()
    env = server_env(data_dir, database_url, RTK_PORT=str(port), **settings)
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rtk_sessions", "serve"], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        try:
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
            yield Server(base, env, proc)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)


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
