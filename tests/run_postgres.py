"""Run the suite again on PostgreSQL (and Redis for the job queue).

CI (CI=true) requires the server at 127.0.0.1:5432 and fails loudly without it; on a laptop
without PostgreSQL the run is skipped with a visible notice.
"""

from __future__ import annotations

import os
import socket
import sys

import run_stages

URL = os.environ.get("RTK_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def reachable(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def main() -> int:
    if not reachable():
        if os.environ.get("CI"):
            print(
                "PostgreSQL is not reachable at 127.0.0.1:5432, and CI requires it.",
                file=sys.stderr,
            )
            return 1
        print(
            "\n*** NOTICE: PostgreSQL is not reachable at 127.0.0.1:5432; the PostgreSQL run is SKIPPED. ***\n"
        )
        return 0
    print(f"\n=== second run: PostgreSQL ({URL}) ===")
    env = {**os.environ, "RTK_TEST_DATABASE_URL": URL}
    # At scale jobs go through Redis: the PostgreSQL run uses it when it is there.
    if reachable(port=6379):
        env["RTK_TEST_JOBS_URL"] = "redis://127.0.0.1:6379/0"
        print("=== job queue: Redis (redis://127.0.0.1:6379/0) ===")
    elif os.environ.get("CI"):
        print("Redis is not reachable at 127.0.0.1:6379, and CI requires it.", file=sys.stderr)
        return 1
    # Pure unit tests do not touch the database; running them twice proves nothing.
    workers, _ = run_stages.parse(sys.argv[1:])
    return run_stages.run(["tests/integration", "tests/e2e"], workers, env)


if __name__ == "__main__":
    sys.exit(main())
