"""What the Snakefile's end-of-run hooks do about Snakemake's own scheduler.

Snakemake's job-rate limiter (``--max-jobs-per-timespan``, by default 100 jobs a second) starts a
``threading.Timer`` after every scheduling pass that submitted jobs, to look at the queue again a second later. The
timer is not a daemon thread, so the Snakemake process waits for the last one before it exits: up to 1 s after
every run, measured 0.97 s after a one-job run (2026-12-02). Once the run has ended (``onsuccess``, ``onerror``)
there is nothing left for it to schedule.
"""

from __future__ import annotations

import threading


def cancel_rescheduling_timers() -> int:
    """Cancel the pending timers Snakemake's scheduler started (and no one else's); returns how many."""
    timers = [
        t for t in threading.enumerate()
        if isinstance(t, threading.Timer) and getattr(t.function, "__module__", "").startswith("snakemake.")
    ]  # fmt: skip
    for timer in timers:
        timer.cancel()
    return len(timers)
