"""What the Snakefile does about Snakemake's own scheduler: its job selection and its end-of-run timers.

Job selection: :func:`select_jobs_greedily` (Snakemake's ILP selection sometimes took its full 10-s time limit).

Timers: Snakemake's job-rate limiter (``--max-jobs-per-timespan``, by default 100 jobs a second) starts a
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


def select_jobs_greedily() -> bool:
    """Make Snakemake choose which ready jobs to start with its greedy selection instead of its ILP (config
    ``scheduler: greedy``); returns whether it could.

    Snakemake's default selection solves an integer program with PuLP's bundled CBC, in a new process, with 2
    threads and a 10-s time limit, at every scheduling pass (about 20 in a prior edit's run). Most solves take
    0.01-0.07 s; but some ran the full 10 s and returned the time limit's solution as optimal, so Snakemake neither
    warned nor fell back: 3 of 314 solves in 16 prior-edit runs on the 2-core machine (2026-12-03), those runs then
    10-12 s longer. An ILP answer of None is Snakemake's own signal to select greedily (what it does when the ILP
    fails), so the ILP selector answers None without solving. The greedy selection orders jobs by the same reward
    (priority, then temporary and input file sizes) and fills the free cores.
    """
    try:
        from snakemake.scheduling.milp import Scheduler
    except ImportError:
        return False
    if not hasattr(Scheduler, "select_jobs"):
        return False
    Scheduler.select_jobs = _no_ilp_selection
    return True


def _no_ilp_selection(self, *args, **kwargs):
    return None  # Snakemake's JobScheduler then runs its greedy selection
