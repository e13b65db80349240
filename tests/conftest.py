"""Shared paths and a writer of modified copies of the real published table."""

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
COHORT_SPECS = CONFIG["cohorts"]
PUBLISHED_DIR = ROOT / "data" / "raw" / "published"
PUBLISHED_CSV = PUBLISHED_DIR / "alliance_outcome_published.csv"


def read_rows(path: Path = PUBLISHED_CSV) -> tuple[list[str], list[dict]]:
    """Header and rows (as dicts of text) of a CSV, read with the csv module only."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


@pytest.fixture
def write_published(tmp_path):
    """write_published(edits, drop=None) -> path of a copy of the real table with cells replaced.

    ``edits`` is a list of (row_id, column, new text); rows keep their order, so the CSV line of the
    i-th data row stays i + 2.
    """

    def _write(edits=(), drop: str | None = None, name: str = "published.csv") -> Path:
        header, rows = read_rows()
        for row_id, column, text in edits:
            matches = [r for r in rows if r["row_id"] == row_id]
            assert len(matches) == 1, f"edit names unknown row {row_id}"
            matches[0][column] = text
        if drop is not None:
            header = [c for c in header if c != drop]
            rows = [{c: r[c] for c in header} for r in rows]
        path = tmp_path / name
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        return path

    return _write


def scipy_log_normal_interval(a, b, mu, sd):
    """log(Phi(zb) - Phi(za)) with scipy, taking the difference in log space in whichever tail it lies."""
    za, zb = (a - mu) / sd, (b - mu) / sd
    if zb <= 0:
        lb = stats.norm.logcdf(zb)
        return lb + np.log1p(-np.exp(stats.norm.logcdf(za) - lb))
    if za >= 0:
        la = stats.norm.logsf(za)
        return la + np.log1p(-np.exp(stats.norm.logsf(zb) - la))
    return np.log(stats.norm.cdf(zb) - stats.norm.cdf(za))
