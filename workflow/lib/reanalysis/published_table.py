"""Read, validate and clean the table of published alliance-outcome statistics.

Every problem is reported at once, each naming the file, the row id (and CSV line), the column, what was
found and what was expected; a table with any problem is rejected whole. Cleaning never drops a row: it
derives columns (``n``, ``k``) and logs every derivation or repair in the cleaning log.
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pandas as pd

from reanalysis.config import load_yaml
from reanalysis.errors import InputError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "published.schema.yaml"
INTEGER_COLUMNS = ["n_enrolled", "n_analysed_reported"]
NUMBER_COLUMNS = ["value", "value_low", "value_high"]


def _schema() -> dict:
    return load_yaml(SCHEMA_PATH.read_text())


def _parse_cell(column: str, text: str):
    """Typed value of a CSV cell for schema validation; unparseable text stays text so the schema names it."""
    if text == "":
        return None
    try:
        if column in INTEGER_COLUMNS:
            number = float(text)
            return int(number) if number.is_integer() else number
        if column in NUMBER_COLUMNS:
            return float(text)
    except ValueError:
        return text
    return text


def count_covariates(text: str) -> int:
    """'none' -> 0; 'baseline CAPS' -> 1; 'age; baseline CAPS' -> 2 (separated by ';', ',' or ' and ')."""
    if text.strip().lower() == "none":
        return 0
    return len([part for part in re.split(r";|,|\band\b", text) if part.strip()])


def _where(path: str, row_id: str, line: int, column: str) -> str:
    return f"{path}, row {row_id!r} (line {line}), column {column!r}"


def read_published(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validated, cleaned table and its cleaning log. Raises InputError listing every problem found."""
    path = str(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: the file is empty; expected a header row and at least one data row") from None
    schema = _schema()
    required = schema["required"]
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; expected at least {required}")
    if raw.empty:
        raise InputError(f"{path}: no data rows; expected at least one")
    raw = raw.apply(lambda col: col.str.strip())
    validator = jsonschema.Draft7Validator(schema)
    problems, log = [], []
    seen_ids: dict[str, int] = {}
    for i, row in raw.iterrows():
        line = int(i) + 2  # header is line 1
        row_id = row.get("row_id", "") or f"<line {line}>"
        record = {c: _parse_cell(c, row[c]) for c in raw.columns if c in schema["properties"]}
        for err in sorted(validator.iter_errors(record), key=lambda e: list(e.path)):
            column = err.path[0] if err.path else (err.validator_value[0] if err.validator == "required" else "?")
            expected = schema["properties"].get(column, {}).get("description", "")
            problems.append(f"{_where(path, row_id, line, column)}: {err.message}; expected {expected}")
        if row_id in seen_ids:
            problems.append(f"{_where(path, row_id, line, 'row_id')}: duplicate of line {seen_ids[row_id]}")
        seen_ids.setdefault(row_id, line)
        problems += _cross_checks(path, row_id, line, record)
    if problems:
        raise InputError(f"{len(problems)} problem(s) in {path}:\n  " + "\n  ".join(problems))
    clean = _clean(raw, log)
    return clean, pd.DataFrame(log, columns=["row_id", "column", "action", "reason"])


def _cross_checks(path: str, row_id: str, line: int, rec: dict) -> list[str]:
    out = []
    where = lambda col: _where(path, row_id, line, col)  # noqa: E731
    n_enr, n_an = rec.get("n_enrolled"), rec.get("n_analysed_reported")
    if isinstance(n_enr, int) and isinstance(n_an, int) and n_an > n_enr:
        out.append(f"{where('n_analysed_reported')}: {n_an} > n_enrolled {n_enr}; expected analysed <= enrolled")
    lo, hi = rec.get("value_low"), rec.get("value_high")
    if isinstance(lo, float) and isinstance(hi, float) and lo > hi:
        out.append(f"{where('value_low')}: {lo} > value_high {hi}; expected an ordered interval")
    value, direction = rec.get("value"), rec.get("direction")
    if rec.get("statistic") == "r" and isinstance(value, float) and abs(value) >= 1:
        out.append(f"{where('value')}: r = {value}; expected a sample correlation strictly inside (-1, 1)")
    if isinstance(value, float) and direction and value != 0:
        expected_sign = -1 if direction == "alliance_lowers_symptoms" else 1
        if (value > 0) - (value < 0) != expected_sign:
            out.append(f"{where('direction')}: {direction!r} contradicts value {value}; expected the sign to agree")
    n = n_an if isinstance(n_an, int) else n_enr
    cov = rec.get("covariates")
    if isinstance(n, int) and isinstance(cov, str) and n - count_covariates(cov) < 4:
        out.append(f"{where('covariates')}: n = {n} with {count_covariates(cov)} covariate(s); expected n - k >= 4")
    return out


def _clean(raw: pd.DataFrame, log: list) -> pd.DataFrame:
    clean = raw.copy()
    for c in ["value", "value_low", "value_high"]:
        clean[f"{c}_text"] = clean[c]  # printed digits, for rounding intervals
        clean[c] = pd.to_numeric(clean[c].replace("", None), errors="raise")
    for c in INTEGER_COLUMNS:
        clean[c] = pd.to_numeric(clean[c].replace("", None), errors="raise").astype("Int64")
    clean["n"] = clean["n_analysed_reported"].fillna(clean["n_enrolled"]).astype(int)
    clean["k"] = clean["covariates"].map(count_covariates).astype(int)
    for _, row in clean.iterrows():
        if pd.isna(row["n_analysed_reported"]):
            log.append([row["row_id"], "n", "derived", f"n_analysed_reported empty: n = n_enrolled = {row['n']}"])
        else:
            log.append([row["row_id"], "n", "derived", f"n = n_analysed_reported = {row['n']}"])
        if row["k"]:
            log.append([row["row_id"], "k", "derived", f"covariates {row['covariates']!r} -> k = {row['k']}"])
    return clean


def _read_typed(path: str | Path, numeric: list[str]) -> pd.DataFrame:
    """A table this pipeline wrote: text stays text (".30" keeps its digits), listed columns are numbers."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in numeric:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c].replace("", None))
    return df


def read_clean(path: str | Path) -> pd.DataFrame:
    """The cleaned table written by the validate_published rule."""
    df = _read_typed(path, ["value", "value_low", "value_high", "n_enrolled", "n_analysed_reported", "n", "k"])
    return df.astype({"n": int, "k": int})


def read_observations(path: str | Path) -> pd.DataFrame:
    """The observations table written by the observations rule."""
    numeric = ["n", "k", "n_eff", "r_obs", "r_lo1", "r_hi1", "r_lo2", "r_hi2", "extra_sd"]
    return _read_typed(path, numeric)
