"""`rtk-sessions worker`: jobs and upkeep in a process of their own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Annotated

import typer

from rtk_sessions.cli.common import DataDir, app, data_settings, run
from rtk_sessions.config import Settings

log = logging.getLogger("rtk_sessions.worker")


@app.command()
def worker(
    workers: Annotated[int, typer.Option(help="Worker threads.")] = 2,
    data_dir: DataDir = None,
) -> None:
    """Run queued jobs (summaries, peer reports) and upkeep in a process of their own.

    Stops on SIGINT or SIGTERM within 10 s; a job still running then is put back in the
    queue for another worker (docs/jobs.md)."""
    from rtk_sessions.kit.jobs import exit_now_if_jobs_linger

    settings = data_settings(data_dir)
    run(lambda: work(settings, workers))
    typer.echo("worker stopped", err=True)
    exit_now_if_jobs_linger()


async def work(settings: Settings, workers: int) -> None:
    """Run jobs and the maintenance loop until SIGINT or SIGTERM, whatever the signals'
    disposition was at start (a shell starting us in the background ignores SIGINT)."""
    from rtk_sessions.cli.exports import open_state
    from rtk_sessions.kit import cpu, metrics
    from rtk_sessions.kit.logging import configure_logging
    from rtk_sessions.kit.timeutil import now_ms
    from rtk_sessions.summaries.jobs import run_summary_pump
    from rtk_sessions.upkeep.jobs import WORK
    from rtk_sessions.upkeep.maintenance import run_maintenance
    from rtk_sessions.webhooks.jobs import run_pump

    configure_logging(settings.log_format, settings.log_level)
    metrics.configure(settings.metrics_dir, owner=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stopping, sig, stop)
    state = await open_state(settings)
    cpu.configure(requests=settings.cpu_workers, jobs=workers, preload=WORK)
    await asyncio.to_thread(state.jobs.start, workers)
    loops = {
        asyncio.create_task(run_maintenance(state, now_ms())),
        asyncio.create_task(run_pump(state)),
        asyncio.create_task(run_summary_pump(state)),
    }
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({*loops, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*loops, stopped):
            task.cancel()
        await asyncio.gather(*loops, stopped, return_exceptions=True)
        await asyncio.to_thread(state.jobs.stop)
        await asyncio.to_thread(cpu.shutdown)
        await state.db.dispose()
        with contextlib.suppress(Exception):
            state.jobs.huey.storage.close()
    for task in loops:
        if not task.cancelled() and task.exception() is not None:
            raise RuntimeError("a background loop ended") from task.exception()


def _stopping(sig: signal.Signals, stop: asyncio.Event) -> None:
    if not stop.is_set():
        log.info("%s: stopping; running jobs get a few seconds to finish", sig.name)
    stop.set()
