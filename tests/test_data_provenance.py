"""data/README.md lists every CSV in data/raw/published/ with its row count and sha256, and the files match:
a changed or added data file fails here until the table is updated (`sha256sum data/raw/published/*.csv`)."""

import csv
import hashlib
import re

import pytest
from conftest import PUBLISHED_DIR, ROOT

from reanalysis.provenance import sha256

README = ROOT / "data" / "README.md"
TABLE_ROW = re.compile(r"^\|\s*`(?P<file>[^`]+\.csv)`\s*\|\s*(?P<rows>\d+)\s*\|.*\|\s*`(?P<sha>[0-9a-f]{64})`\s*\|\s*$")


def readme_table() -> dict[str, dict]:
    out = {}
    for line in README.read_text().splitlines():
        m = TABLE_ROW.match(line)
        if m:
            assert m["file"] not in out, f"{m['file']} listed twice in {README}"
            out[m["file"]] = {"rows": int(m["rows"]), "sha256": m["sha"]}
    return out


LISTED = readme_table()
ON_DISK = sorted(p.name for p in PUBLISHED_DIR.glob("*.csv"))


def test_readme_table_parsed():
    assert len(LISTED) >= 4
    assert "alliance_outcome_published.csv" in LISTED


def test_every_csv_is_listed_and_every_listed_file_exists():
    assert ON_DISK, f"no CSV in {PUBLISHED_DIR}"
    assert sorted(LISTED) == ON_DISK


@pytest.mark.parametrize("name", ON_DISK)
def test_sha256_matches_readme(name):
    digest = hashlib.sha256((PUBLISHED_DIR / name).read_bytes()).hexdigest()
    assert digest == LISTED[name]["sha256"], f"{name} changed: update its sha256 in {README}"
    assert sha256(PUBLISHED_DIR / name) == digest  # the hash the report's provenance footer prints


@pytest.mark.parametrize("name", ON_DISK)
def test_row_count_matches_readme(name):
    with open(PUBLISHED_DIR / name, newline="") as f:
        n_rows = sum(1 for _ in csv.reader(f)) - 1  # minus the header
    assert n_rows == LISTED[name]["rows"]
