"""reanalysis.published_table: the real table validates and is cleaned as documented; every malformed input
is rejected with a message naming the file, the row id, the CSV line, the column and what was expected."""

import re

import pandas as pd
import pytest
from conftest import PUBLISHED_CSV, read_rows

from reanalysis.errors import InputError
from reanalysis.published_table import count_covariates, read_published

ROW_IDS = ["Z01", "Z02", "Z03", "Z04", "Z05", "Z06", "L01", "L02", "L03", "L04", "L05", "L06", "L07", "L08"]
LINE = {row_id: i + 2 for i, row_id in enumerate(ROW_IDS)}  # header is line 1


@pytest.fixture(scope="module")
def real():
    return read_published(PUBLISHED_CSV)


def _problems(message: str) -> list[str]:
    """The problem lines of a multi-problem InputError message."""
    return [line.strip() for line in message.splitlines()[1:] if line.strip()]


def _where(path, row_id: str, column: str) -> str:
    return f"{path}, row {row_id!r} (line {LINE[row_id]}), column {column!r}"


# ---------------------------------------------------------------- the real table
def test_real_table_has_14_rows_in_file_order(real):
    clean, _ = real
    assert clean.shape[0] == 14
    assert list(clean["row_id"]) == ROW_IDS
    assert clean["row_id"].is_unique


def test_n_and_k_derived_as_documented(real):
    """n = n_analysed_reported when given, else n_enrolled; k = covariates named ('none' -> 0)."""
    clean, _ = real
    _, raw = read_rows()
    expected_n = [int(r["n_analysed_reported"] or r["n_enrolled"]) for r in raw]
    expected_k = [0 if r["covariates"] == "none" else 1 for r in raw]  # every covariate cell names one
    assert list(clean["n"]) == expected_n
    assert list(clean["k"]) == expected_k
    # the numbers themselves: Zeifman analysed 22 of 23 with a baseline covariate, Levin 24 bivariate
    assert list(clean.loc[clean["row_id"].str.startswith("Z"), "n"]) == [22] * 6
    assert list(clean.loc[clean["row_id"].str.startswith("Z"), "k"]) == [1] * 6
    assert list(clean.loc[clean["row_id"].str.startswith("L"), "n"]) == [24] * 8
    assert list(clean.loc[clean["row_id"].str.startswith("L"), "k"]) == [0] * 8


def test_numbers_parsed_and_printed_digits_kept(real):
    clean, _ = real
    by_id = clean.set_index("row_id")
    assert by_id.loc["L01", "value"] == pytest.approx(-0.65)
    assert by_id.loc["L01", "value_text"] == "-0.65"
    assert by_id.loc["Z05", "value_low"] == pytest.approx(0.26)
    assert by_id.loc["Z05", "value_high_text"] == "0.40"
    assert by_id["value"].notna().sum() == 7  # L01, L03-L08
    assert pd.isna(by_id.loc["Z01", "value"])


def test_cleaning_log_one_n_entry_per_row_and_k_for_covariate_rows(real):
    _, log = real
    assert list(log.columns) == ["row_id", "column", "action", "reason"]
    n_log = log[log["column"] == "n"]
    assert list(n_log["row_id"]) == ROW_IDS
    k_log = log[log["column"] == "k"]
    assert list(k_log["row_id"]) == ["Z01", "Z02", "Z03", "Z04", "Z05", "Z06"]
    assert log.shape == (14 + 6, 4)
    assert set(log["action"]) == {"derived"}
    reasons = log.set_index(["row_id", "column"])["reason"]
    assert reasons[("Z01", "n")] == "n = n_analysed_reported = 22"
    assert reasons[("L01", "n")] == "n_analysed_reported empty: n = n_enrolled = 24"
    assert reasons[("Z04", "k")] == "covariates 'baseline IES-R' -> k = 1"


# ---------------------------------------------------------------- one bad cell at a time
BAD_CELLS = [
    # id, edits, (row_id, column) reported, expected fragment, number of problems
    (
        "r_above_one",
        [("L01", "value", "1.7")],
        "L01",
        "value",
        "expected a sample correlation strictly inside (-1, 1)",
        2,
    ),
    (
        "unknown_statistic",
        [("L03", "statistic", "rho")],
        "L03",
        "statistic",
        "'rho' is not one of ['r', 'std_beta', 'variance_explained_range'",
        1,
    ),
    (
        "unknown_alliance_phase",
        [("L03", "alliance_phase", "during")],
        "L03",
        "alliance_phase",
        "'during' is not one of ['preparation', 'mid-treatment', 'late-treatment', 'post-dosing']",
        1,
    ),
    (
        "non_numeric_n_enrolled",
        [("L04", "n_enrolled", "twenty")],
        "L04",
        "n_enrolled",
        "'twenty' is not of type 'integer'; expected participants enrolled",
        1,
    ),
    (
        "low_above_high",
        [("Z02", "value_low", "0.30")],
        "Z02",
        "value_low",
        "0.3 > value_high 0.29; expected an ordered interval",
        1,
    ),
    (
        "direction_contradicts_sign",
        [("L05", "direction", "alliance_raises_symptoms")],
        "L05",
        "direction",
        "'alliance_raises_symptoms' contradicts value -0.85; expected the sign to agree",
        1,
    ),
    (
        "analysed_above_enrolled",
        [("L06", "n_analysed_reported", "30")],
        "L06",
        "n_analysed_reported",
        "30 > n_enrolled 24; expected analysed <= enrolled",
        1,
    ),
    (
        "too_few_df_for_covariates",
        [("Z01", "n_analysed_reported", "4")],
        "Z01",
        "covariates",
        "n = 4 with 1 covariate(s); expected n - k >= 4",
        1,
    ),
]


@pytest.mark.parametrize(
    ("edits", "row_id", "column", "fragment", "n_problems"),
    [case[1:] for case in BAD_CELLS],
    ids=[case[0] for case in BAD_CELLS],
)
def test_bad_cell_names_file_row_line_column_and_expectation(
    write_published, edits, row_id, column, fragment, n_problems
):
    path = write_published(edits)
    with pytest.raises(InputError) as info:
        read_published(path)
    message = str(info.value)
    assert message.startswith(f"{n_problems} problem(s) in {path}:")
    problems = _problems(message)
    assert len(problems) == n_problems
    matching = [p for p in problems if p.startswith(_where(path, row_id, column) + ":")]
    assert matching, message
    assert any(fragment in p for p in matching), message
    assert all("expected" in p for p in problems)


def test_duplicate_row_id_points_at_first_occurrence(write_published):
    path = write_published([("L03", "row_id", "L01")])  # line 10 now repeats line 8's id
    with pytest.raises(InputError) as info:
        read_published(path)
    (problem,) = _problems(str(info.value))
    assert problem == f"{path}, row 'L01' (line 10), column 'row_id': duplicate of line 8"


def test_several_bad_rows_are_all_reported_in_one_message(write_published):
    path = write_published([("L01", "value", "1.7"), ("Z03", "alliance_phase", "during"), ("L08", "n_enrolled", "x")])
    with pytest.raises(InputError) as info:
        read_published(path)
    message = str(info.value)
    assert message.startswith(f"4 problem(s) in {path}:")
    problems = _problems(message)
    assert len(problems) == 4
    # reported in file order, each with its own row, line and column
    assert problems[0].startswith(_where(path, "Z03", "alliance_phase"))
    assert problems[1].startswith(_where(path, "L01", "value"))
    assert problems[2].startswith(_where(path, "L01", "value"))
    assert problems[3].startswith(_where(path, "L08", "n_enrolled"))
    assert "'x' is not of type 'integer'" in problems[3]


# ---------------------------------------------------------------- whole-file problems
def test_missing_required_column(write_published):
    path = write_published(drop="statistic")
    with pytest.raises(InputError) as info:
        read_published(path)
    message = str(info.value)
    assert message.startswith(f"{path}: missing column(s) ['statistic']; expected at least [")
    for column in ["row_id", "study", "n_enrolled", "alliance_phase", "covariates"]:
        assert repr(column) in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert path.stat().st_size == 0
    with pytest.raises(InputError, match=re.escape(f"{path}: the file is empty; expected a header row")):
        read_published(path)


def test_header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(PUBLISHED_CSV.read_text().splitlines()[0] + "\n")
    with pytest.raises(InputError, match=re.escape(f"{path}: no data rows; expected at least one")):
        read_published(path)


def test_file_not_found(tmp_path):
    path = tmp_path / "nowhere" / "published.csv"
    with pytest.raises(InputError, match=re.escape(f"{path}: file not found")):
        read_published(path)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


# ---------------------------------------------------------------- count_covariates
@pytest.mark.parametrize(
    ("text", "k"),
    [
        ("none", 0),
        (" None ", 0),
        ("baseline CAPS", 1),
        ("age; baseline CAPS", 2),
        ("age, sex", 2),
        ("age, sex and baseline CAPS", 3),
        ("standard care", 1),  # 'and' inside a word does not split
        ("age;; sex", 2),  # empty parts are not covariates
    ],
)
def test_count_covariates(text, k):
    assert count_covariates(text) == k
