"""reanalysis.scheduling: the end-of-run hooks cancel Snakemake's rescheduling timers, and only those."""

from __future__ import annotations

import threading

from reanalysis.scheduling import cancel_rescheduling_timers


def test_only_snakemakes_timers_are_cancelled():
    def release():  # as JobScheduler._schedule_reevalutation's lambda, which lives in snakemake.scheduling
        pass

    release.__module__ = "snakemake.scheduling.job_scheduler"
    theirs, ours = threading.Timer(30, release), threading.Timer(30, lambda: None)
    theirs.start()
    ours.start()
    try:
        assert cancel_rescheduling_timers() == 1
        theirs.join(timeout=5)
        assert not theirs.is_alive()  # the process no longer waits 30 s for it
        assert ours.is_alive() and not ours.finished.is_set()
    finally:
        ours.cancel()
        theirs.cancel()
