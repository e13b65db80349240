"""Read, validate and complete a long-format participant table (Track B), from a CSV file or an in-memory frame.

Every problem is reported at once, each naming the source, the CSV line (or data row of a frame), the participant,
the column, what was found and what was expected; a table with any problem is rejected whole. Cleaning never drops a
row and never hides one: a missing score (empty cell or NA) is kept as NaN, a (participant, timepoint, measure) cell
absent from the table is added as NaN, and both are written to the cleaning log and counted in the missingness table.
A participant with no alliance rating and no outcome at any follow-up is kept and logged.

The synthetic cohorts (``models.cohorts``) go through ``validate_participant_frame``, the same checks as a file.
"""

from __future__ import annotations

import csv
import math
import numbers
from pathlib import Path

import jsonschema
import pandas as pd

from reanalysis.config import load_yaml
from reanalysis.errors import InputError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "participants.schema.yaml"
COLUMNS = ["participant_id", "timepoint", "measure", "value"]
TEXT_COLUMNS = COLUMNS[:3]
MISSING_TEXT = frozenset({"", "NA", "N/A", "NaN", "nan"})  # a value cell with one of these is a missing score
LOG_COLUMNS = ["participant_id", "timepoint", "measure", "action", "reason"]
MISSINGNESS_COLUMNS = ["measure", "timepoint", "n_expected", "n_observed", "n_missing"]


def _schema() -> dict:
    return load_yaml(SCHEMA_PATH.read_text())


def allowed_timepoints(spec: dict) -> dict[str, list[str]]:
    """Measure -> its timepoints: the alliance measure at alliance_timepoints, each outcome at baseline + followups."""
    outcome_times = [spec["baseline_timepoint"], *spec["followups"]]
    return {spec["alliance"]["measure"]: list(spec["alliance_timepoints"])} | {
        m: outcome_times for m in spec["outcomes"]
    }


def design_cells(spec: dict) -> list[tuple[str, str]]:
    """Every (timepoint, measure) a participant should have, in design order (alliance first, then each outcome)."""
    return [(t, m) for m, times in allowed_timepoints(spec).items() for t in times]


def instrument_ranges(spec: dict) -> dict[str, tuple[float, float]]:
    ranges = {spec["alliance"]["measure"]: spec["alliance"]} | dict(spec["outcomes"])
    return {m: (float(r["min"]), float(r["max"])) for m, r in ranges.items()}


def read_participants(path: str | Path, cohort: str, spec: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(clean long table, cleaning log, missingness table) of one cohort's CSV; InputError lists every problem."""
    path = str(path)
    file = Path(path)
    expected_header = ",".join(COLUMNS)
    if not file.is_file():
        raise InputError(f"{path}: file not found; expected a long-format CSV with the header {expected_header}")
    if file.stat().st_size == 0:
        raise InputError(
            f"{path}, line 1: the file is empty (0 bytes); expected the header {expected_header} "
            f"and one row per participant, timepoint and measure of cohort {cohort!r}"
        )
    with open(file, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"{path}, line 1 (header): missing column(s) {missing}; expected the columns {COLUMNS} (found {header})"
            )
        doubled = sorted({h for h in header if header.count(h) > 1})
        if doubled:
            raise InputError(f"{path}, line 1 (header): column(s) {doubled} appear more than once; expected each once")
        records, problems = [], []
        previous_end = reader.line_num
        for fields in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(f.strip() for f in fields):
                continue  # blank line
            location = f"line {start}"
            if len(fields) != len(header):
                pid = (
                    fields[header.index("participant_id")].strip()
                    if len(fields) > header.index("participant_id")
                    else ""
                )
                problems.append(
                    f"{path}, {location}, participant {pid!r}: {len(fields)} field(s); expected {len(header)}, "
                    f"one per header column {header}"
                )
                continue
            records.append((location, {h: f.strip() for h, f in zip(header, fields, strict=True)}))
    if not records and not problems:
        raise InputError(
            f"{path}, line 1: header only, no data rows; expected one row per participant, timepoint and measure "
            f"of cohort {cohort!r}"
        )
    extra = [h for h in header if h not in COLUMNS]
    return _validate(records, problems, extra, path, spec)


def validate_participant_frame(
    df: pd.DataFrame, cohort: str, spec: dict, source: str = "<generated>"
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The checks of ``read_participants`` on an in-memory long table; locations are 1-based data rows."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {missing}; expected the columns {COLUMNS}")
    if df.empty:
        raise InputError(f"{source}: no rows; expected one row per participant, timepoint and measure of {cohort!r}")
    records = []
    for i, row in enumerate(df[COLUMNS].itertuples(index=False, name=None)):
        record = dict(zip(COLUMNS, row, strict=True))
        for c in TEXT_COLUMNS:  # text stays text (an id "NA" is an id); only None / NaN cells are empty
            cell = record[c]
            record[c] = cell.strip() if isinstance(cell, str) else "" if _is_missing(cell) else cell
        records.append((f"data row {i + 1}", record))
    extra = [c for c in df.columns if c not in COLUMNS]
    return _validate(records, [], extra, source, spec)


def _is_missing(cell) -> bool:
    if cell is None or cell is pd.NA:
        return True
    if isinstance(cell, str):
        return cell.strip() in MISSING_TEXT
    return isinstance(cell, numbers.Real) and not isinstance(cell, bool) and math.isnan(cell)


def _number(cell) -> float | None:
    """A value cell as float (NaN = missing), or None when it is not a number."""
    if _is_missing(cell):
        return math.nan
    if isinstance(cell, bool):
        return None
    if isinstance(cell, numbers.Real):
        return float(cell)
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


def _validate(records: list, problems: list, extra: list, source: str, spec: dict):
    schema = _schema()
    validator = jsonschema.Draft7Validator(schema)
    allowed = allowed_timepoints(spec)
    ranges = instrument_ranges(spec)
    seen: dict[tuple, str] = {}
    rows = []
    for location, rec in records:
        pid, timepoint, measure = rec["participant_id"], rec["timepoint"], rec["measure"]

        def where(column: str) -> str:
            return f"{source}, {location}, participant {pid!r}, column {column!r}"  # noqa: B023

        value = _number(rec["value"])
        typed = {c: rec[c] for c in TEXT_COLUMNS} | {"value": None if value is None or math.isnan(value) else value}
        for err in sorted(validator.iter_errors(typed), key=lambda e: list(e.path)):
            column = err.path[0] if err.path else "?"
            expected = schema["properties"].get(column, {}).get("description", "")
            problems.append(f"{where(column)}: {err.message}; expected {expected}")
        if measure and measure not in allowed:
            problems.append(f"{where('measure')}: unknown measure {measure!r}; expected one of {list(allowed)}")
        elif measure and timepoint and timepoint not in allowed[measure]:
            problems.append(
                f"{where('timepoint')}: unknown timepoint {timepoint!r} for measure {measure!r}; "
                f"expected one of {allowed[measure]}"
            )
        if measure in ranges:
            lo, hi = ranges[measure]
            expected = f"a number in [{lo:g}, {hi:g}] (the {measure} range), or an empty cell / NA for a missing score"
        else:
            expected = "a number, or an empty cell / NA for a missing score"
        if value is None:
            problems.append(f"{where('value')}: {rec['value']!r} is not a number; expected {expected}")
        elif measure in ranges and not math.isnan(value) and not lo <= value <= hi:
            problems.append(f"{where('value')}: {value:g} is outside the {measure} range; expected {expected}")
        key = (pid, timepoint, measure)
        if key in seen:
            problems.append(
                f"{source}, {location}, participant {pid!r}, columns ['participant_id', 'timepoint', 'measure']: "
                f"duplicate of {seen[key]} (timepoint {timepoint!r}, measure {measure!r}); "
                "expected one row per participant, timepoint and measure"
            )
        seen.setdefault(key, location)
        rows.append((pid, timepoint, measure, value, location))
    if problems:
        raise InputError(f"{len(problems)} problem(s) in {source}:\n  " + "\n  ".join(problems))
    return _complete(rows, extra, source, spec)


def _complete(rows: list, extra: list, source: str, spec: dict):
    """Clean table with every design cell of every participant, the cleaning log and the missingness table."""
    log = [
        ["", "", "", "ignored column", f"column {c!r} of {source} is not used; expected only {COLUMNS}"] for c in extra
    ]
    found = {(pid, t, m): (value, location) for pid, t, m, value, location in rows}
    participants = list(dict.fromkeys(r[0] for r in rows))
    cells = design_cells(spec)
    alliance = spec["alliance"]["measure"]
    followups = set(spec["followups"])
    clean = []
    for pid in participants:
        for t, m in cells:
            if (pid, t, m) in found:
                value, location = found[(pid, t, m)]
                if math.isnan(value):
                    log.append([pid, t, m, "kept missing", f"{source}, {location}: empty value; kept as NaN (missing)"])
            else:
                value = math.nan
                log.append(
                    [pid, t, m, "added missing row", f"no row in {source} for this participant, timepoint and "
                     "measure; added with value NaN (missing)"]
                )  # fmt: skip
            clean.append((pid, t, m, value))
        values = {(t, m): v for p, t, m, v in clean[-len(cells) :]}
        no_alliance = all(math.isnan(v) for (t, m), v in values.items() if m == alliance)
        no_followup = all(math.isnan(v) for (t, m), v in values.items() if m != alliance and t in followups)
        if no_alliance and no_followup:
            log.append(
                [pid, "", "", "kept participant without alliance or follow-up", "no alliance rating at "
                 f"{list(spec['alliance_timepoints'])} and no outcome at any follow-up {list(spec['followups'])}; "
                 "kept (contributes baseline scores only)"]
            )  # fmt: skip
    table = pd.DataFrame(clean, columns=COLUMNS).astype({"value": float})
    counts = []
    for t, m in cells:
        cell = table.loc[(table["timepoint"] == t) & (table["measure"] == m), "value"]
        counts.append((m, t, len(cell), int(cell.notna().sum()), int(cell.isna().sum())))
    missingness = pd.DataFrame(counts, columns=MISSINGNESS_COLUMNS)
    return table, pd.DataFrame(log, columns=LOG_COLUMNS), missingness
