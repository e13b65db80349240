"""Tests for reanalysis.stale: after a failed build the last good report says it is out of date."""

import datetime as dt
import stat

import pytest

from reanalysis.stale import BANNER_ID, TITLE_MARK, mark_stale, on_build_failure

REPORT = """<!DOCTYPE html>
<html><head><title>Therapeutic alliance</title></head>
<body>
<h1>Therapeutic alliance</h1>
<p>pooled rho -0.54</p>
</body></html>
"""
FIRST = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
SECOND = dt.datetime(2026, 12, 1, 11, 5, tzinfo=dt.UTC)


@pytest.fixture
def report(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(REPORT, encoding="utf-8")
    path.chmod(0o644)
    return path


def test_banner_and_title_are_added_and_the_rest_is_unchanged(report):
    assert mark_stale(report, ".snakemake/log/run.log", FIRST)
    text = report.read_text(encoding="utf-8")
    assert text.count(f'id="{BANNER_ID}"') == 1
    assert "2026-12-01 09:30 UTC" in text and "<code>.snakemake/log/run.log</code>" in text
    assert f"<title>{TITLE_MARK}Therapeutic alliance</title>" in text
    # the banner is the first thing in the body; without banner and title mark the report is what it was
    assert text.index(BANNER_ID) > text.index("<body>") and text.index(BANNER_ID) < text.index("<h1>")
    banner_line = next(line for line in text.splitlines(keepends=True) if BANNER_ID in line)
    assert text.replace(banner_line, "").replace(TITLE_MARK, "") == REPORT
    assert stat.S_IMODE(report.stat().st_mode) == 0o644  # the temporary file's private mode did not stick


def test_a_second_failure_replaces_the_banner(report):
    mark_stale(report, "a.log", FIRST)
    mark_stale(report, "b.log", SECOND)
    text = report.read_text(encoding="utf-8")
    assert text.count(f'id="{BANNER_ID}"') == 1 and text.count(TITLE_MARK) == 1
    assert "11:05 UTC" in text and "b.log" in text and "09:30" not in text and "a.log" not in text


def test_log_path_is_escaped_and_optional(report):
    mark_stale(report, "<odd>.log", FIRST)
    assert "&lt;odd&gt;.log" in report.read_text(encoding="utf-8")
    mark_stale(report, None, SECOND)
    assert "Snakemake log" not in report.read_text(encoding="utf-8")


def test_no_report_is_no_change(tmp_path):
    assert mark_stale(tmp_path / "report.html") is False
    assert not list(tmp_path.iterdir())


def test_a_file_that_is_not_the_report_is_refused_and_left_alone(tmp_path, capsys):
    other = tmp_path / "report.html"
    other.write_text("not html", encoding="utf-8")
    with pytest.raises(ValueError, match="no <body> tag"):
        mark_stale(other)
    # the hook reports the problem instead of replacing the build's own error
    on_build_failure(other, None)
    assert "could not mark" in capsys.readouterr().err
    assert other.read_text(encoding="utf-8") == "not html"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left behind
