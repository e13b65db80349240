"""Marking the report out of date after a failed build.

Snakemake removes only the failing job's outputs, so the report of the last successful build stays in place and
would read as current. The Snakefile's ``onerror`` hook calls :func:`mark_stale`, which puts a banner at the top of
the report and "[OUT OF DATE]" in its title; the next successful build writes the report afresh, without them.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import sys
import tempfile
from pathlib import Path

BANNER_ID = "stale-banner"
TITLE_MARK = "[OUT OF DATE] "
_OPEN = f'<div class="status bad" id="{BANNER_ID}">'  # the report's own .status style
_BANNER = re.compile(re.escape(_OPEN) + r".*?</div>\n", re.S)
_BODY = re.compile(r"<body[^>]*>\n?")
_TITLE = re.compile(r"<title>(?!" + re.escape(TITLE_MARK) + ")")


def banner(failed_at: dt.datetime, snakemake_log: str | None) -> str:
    where = f" (Snakemake log: <code>{html.escape(str(snakemake_log))}</code>)" if snakemake_log else ""
    return (
        f"{_OPEN}Out of date: a later build failed at "
        f"{failed_at:%Y-%m-%d %H:%M} UTC{where}. This report is from the last successful build; until a build "
        "succeeds, its numbers and figures may not match the current config or data.</div>\n"
    )


def mark_stale(report: Path, snakemake_log: str | None = None, failed_at: dt.datetime | None = None) -> bool:
    """Put the out-of-date banner in ``report`` (replacing an earlier one); False when there is no report.

    Written to a temporary file and moved into place, so a failure here cannot leave a half-written report.
    """
    report = Path(report)
    if not report.exists():
        return False
    text = report.read_text(encoding="utf-8")
    if not _BODY.search(text):
        raise ValueError(f"{report}: no <body> tag; is this the pipeline's report?")
    failed_at = failed_at or dt.datetime.now(dt.UTC)
    text = _BANNER.sub("", text, count=1)
    new_banner = banner(failed_at, snakemake_log)
    text = _BODY.sub(lambda m: m[0].rstrip("\n") + "\n" + new_banner, text, count=1)
    text = _TITLE.sub("<title>" + TITLE_MARK, text, count=1)
    fd, tmp = tempfile.mkstemp(dir=report.parent, prefix=".report-", suffix=".tmp")
    try:
        os.chmod(tmp, report.stat().st_mode & 0o777)  # mkstemp makes it private; keep the report's permissions
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, report)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def on_build_failure(report: Path, snakemake_log: str | None) -> None:
    """The ``onerror`` hook: mark the report, and if that fails say so without hiding the build's own error."""
    try:
        if mark_stale(report, snakemake_log):
            print(f"{report} is marked out of date (the build failed; the report is the last successful one)",
                  file=sys.stderr)  # fmt: skip
    except (OSError, ValueError) as err:
        print(f"could not mark {report} out of date: {err}", file=sys.stderr)
