"""reanalysis.participant_table: a written cohort reads back identically with the right missingness; every malformed
input is rejected with a message naming the file, the CSV line, the participant, the column and what was expected;
absent cells are added and logged, never silently."""

import math

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from models.cohorts import simulate_cohort
from reanalysis.errors import InputError
from reanalysis.participant_table import (
    LOG_COLUMNS,
    MISSINGNESS_COLUMNS,
    read_participants,
    validate_participant_frame,
)

CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
SPECS = CONFIG["cohorts"]
SEED = CONFIG["seed"]
HEADER = "participant_id,timepoint,measure,value"


@pytest.fixture(scope="module")
def ptsd_frame():
    return simulate_cohort("ptsd", SPECS["ptsd"], SEED)


@pytest.fixture
def ptsd_lines(ptsd_frame):
    """The shipped PTSD cohort as CSV lines; lines[i] is CSV line i + 1 (lines[0] is the header)."""
    return ptsd_frame.to_csv(index=False).splitlines()


def _write(tmp_path, lines: list[str], name: str = "cohort.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _line_of(lines: list[str], participant: str, timepoint: str, measure: str) -> int:
    """1-based CSV line of a cell."""
    prefix = f"{participant},{timepoint},{measure},"
    return next(i + 1 for i, text in enumerate(lines) if text.startswith(prefix))


def _set(lines: list[str], line: int, **cells) -> list[str]:
    fields = dict(zip(HEADER.split(","), lines[line - 1].split(","), strict=True)) | cells
    out = list(lines)
    out[line - 1] = ",".join(fields.values())
    return out


def _error(path, cohort: str = "ptsd") -> str:
    with pytest.raises(InputError) as info:
        read_participants(path, cohort, SPECS[cohort])
    return str(info.value)


# ---------------------------------------------------------------- round trip
@pytest.mark.parametrize("name", ["ptsd", "mdd"])
def test_round_trip_identical_values_and_missingness(tmp_path, name):
    frame = simulate_cohort(name, SPECS[name], SEED)
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    clean, log, missingness = read_participants(path, name, SPECS[name])
    pd.testing.assert_frame_equal(clean, frame)
    n_missing = {"ptsd": 1, "mdd": 4}[name]
    missing_rows = frame.index[frame["value"].isna()]
    assert list(log.columns) == LOG_COLUMNS
    assert list(log["action"]) == ["kept missing"] * n_missing
    assert list(log["participant_id"]) == list(frame.loc[missing_rows, "participant_id"])
    for reason, row in zip(log["reason"], missing_rows, strict=True):
        assert reason == f"{path}, line {row + 2}: empty value; kept as NaN (missing)"
    assert list(missingness.columns) == MISSINGNESS_COLUMNS
    n = frame["participant_id"].nunique()
    assert (missingness["n_expected"] == n).all()
    assert missingness["n_missing"].sum() == n_missing
    assert (missingness["n_observed"] + missingness["n_missing"] == n).all()
    alliance = SPECS[name]["alliance"]["measure"]
    timepoint = {"ptsd": "session_9", "mdd": "final_preparation"}[name]
    row = missingness.set_index(["measure", "timepoint"]).loc[(alliance, timepoint)]
    assert (row["n_observed"], row["n_missing"]) == (n - n_missing, n_missing)


def test_frame_and_file_give_the_same_result(tmp_path, ptsd_frame):
    path = tmp_path / "ptsd.csv"
    ptsd_frame.to_csv(path, index=False)
    from_file = read_participants(path, "ptsd", SPECS["ptsd"])
    from_frame = validate_participant_frame(ptsd_frame, "ptsd", SPECS["ptsd"], source="synthetic ptsd")
    pd.testing.assert_frame_equal(from_file[0], from_frame[0])
    pd.testing.assert_frame_equal(from_file[2], from_frame[2])
    assert from_frame[1]["reason"].str.startswith("synthetic ptsd, data row ").all()


# ---------------------------------------------------------------- bad inputs, one at a time
def test_file_not_found(tmp_path):
    path = tmp_path / "nope.csv"
    message = _error(path)
    assert message == f"{path}: file not found; expected a long-format CSV with the header {HEADER}"


def test_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    message = _error(path)
    assert message.startswith(f"{path}, line 1: the file is empty (0 bytes); expected the header {HEADER}")


def test_header_only(tmp_path):
    path = _write(tmp_path, [HEADER])
    message = _error(path)
    assert message.startswith(f"{path}, line 1: header only, no data rows; expected one row per participant")


def test_missing_column(tmp_path, ptsd_frame):
    path = tmp_path / "no_value.csv"
    ptsd_frame.drop(columns="value").to_csv(path, index=False)
    message = _error(path)
    assert message == (
        f"{path}, line 1 (header): missing column(s) ['value']; expected the columns "
        "['participant_id', 'timepoint', 'measure', 'value'] (found ['participant_id', 'timepoint', 'measure'])"
    )


def test_duplicate_names_both_lines(tmp_path, ptsd_lines):
    first = _line_of(ptsd_lines, "P05", "post", "CAPS-5")
    lines = [*ptsd_lines, ptsd_lines[first - 1]]
    path = _write(tmp_path, lines)
    message = _error(path)
    assert message.startswith(f"1 problem(s) in {path}:")
    assert (
        f"{path}, line {len(lines)}, participant 'P05', columns ['participant_id', 'timepoint', 'measure']: "
        f"duplicate of line {first} (timepoint 'post', measure 'CAPS-5'); "
        "expected one row per participant, timepoint and measure"
    ) in message


def test_out_of_range_value(tmp_path, ptsd_lines):
    line = _line_of(ptsd_lines, "P07", "post", "CAPS-5")
    path = _write(tmp_path, _set(ptsd_lines, line, value="95"))
    message = _error(path)
    assert (
        f"{path}, line {line}, participant 'P07', column 'value': 95 is outside the CAPS-5 range; "
        "expected a number in [0, 80] (the CAPS-5 range), or an empty cell / NA for a missing score"
    ) in message


def test_out_of_range_alliance(tmp_path, ptsd_lines):
    line = _line_of(ptsd_lines, "P02", "session_4", "WAI")
    path = _write(tmp_path, _set(ptsd_lines, line, value="0.5"))
    message = _error(path)
    assert f"{path}, line {line}, participant 'P02', column 'value': 0.5 is outside the WAI range" in message
    assert "expected a number in [1, 7] (the WAI range)" in message


def test_unknown_timepoint_for_the_measure(tmp_path, ptsd_lines):
    """'session_4' is a timepoint of the cohort, but not one of CAPS-5's."""
    line = _line_of(ptsd_lines, "P03", "post", "CAPS-5")
    path = _write(tmp_path, _set(ptsd_lines, line, timepoint="session_4"))
    message = _error(path)
    assert (
        f"{path}, line {line}, participant 'P03', column 'timepoint': unknown timepoint 'session_4' for measure "
        "'CAPS-5'; expected one of ['baseline', 'post']"
    ) in message


def test_unknown_measure(tmp_path, ptsd_lines):
    line = _line_of(ptsd_lines, "P11", "baseline", "IES-R")
    path = _write(tmp_path, _set(ptsd_lines, line, measure="PCL-5"))
    message = _error(path)
    assert (
        f"{path}, line {line}, participant 'P11', column 'measure': unknown measure 'PCL-5'; "
        "expected one of ['WAI', 'CAPS-5', 'IES-R']"
    ) in message


def test_non_numeric_value(tmp_path, ptsd_lines):
    line = _line_of(ptsd_lines, "P08", "baseline", "CAPS-5")
    path = _write(tmp_path, _set(ptsd_lines, line, value="abc"))
    message = _error(path)
    assert (
        f"{path}, line {line}, participant 'P08', column 'value': 'abc' is not a number; "
        "expected a number in [0, 80] (the CAPS-5 range), or an empty cell / NA for a missing score"
    ) in message


def test_empty_participant_id(tmp_path, ptsd_lines):
    line = _line_of(ptsd_lines, "P09", "post", "IES-R")
    path = _write(tmp_path, _set(ptsd_lines, line, participant_id=""))
    message = _error(path)
    assert f"{path}, line {line}, participant '', column 'participant_id': '' " in message
    assert "expected a non-empty participant id" in message


def test_wrong_number_of_fields(tmp_path, ptsd_lines):
    line = _line_of(ptsd_lines, "P12", "post", "IES-R")
    lines = list(ptsd_lines)
    lines[line - 1] += ",extra"
    message = _error(_write(tmp_path, lines))
    assert f"line {line}, participant 'P12': 5 field(s); expected 4, one per header column" in message


def test_several_problems_reported_together(tmp_path, ptsd_lines):
    lines = list(ptsd_lines)
    bad = {
        "value": _line_of(lines, "P01", "post", "CAPS-5"),
        "measure": _line_of(lines, "P04", "post", "IES-R"),
        "abc": _line_of(lines, "P06", "baseline", "IES-R"),
        "timepoint": _line_of(lines, "P10", "session_4", "WAI"),
    }
    lines = _set(lines, bad["value"], value="-3")
    lines = _set(lines, bad["measure"], measure="BDI")
    lines = _set(lines, bad["abc"], value="n/a?")
    lines = _set(lines, bad["timepoint"], timepoint="session_5")
    lines.append(lines[_line_of(lines, "P13", "baseline", "CAPS-5") - 1])
    path = _write(tmp_path, lines)
    message = _error(path)
    problems = [p.strip() for p in message.splitlines()[1:]]
    assert message.splitlines()[0] == f"5 problem(s) in {path}:"
    assert len(problems) == 5
    assert problems[0].startswith(f"{path}, line {bad['value']}, participant 'P01', column 'value': -3 is outside")
    text = "\n".join(problems)
    assert f"line {bad['measure']}, participant 'P04', column 'measure': unknown measure 'BDI'" in text
    assert any(f"line {bad['abc']}, participant 'P06', column 'value': 'n/a?' is not a number" in p for p in problems)
    assert any(f"line {bad['timepoint']}, participant 'P10', column 'timepoint'" in p for p in problems)
    assert any(f"line {len(lines)}, participant 'P13'" in p and "duplicate of line" in p for p in problems)


def test_frame_problems_name_the_source_and_data_row(ptsd_frame):
    df = ptsd_frame.copy()
    df.loc[3, "value"] = 200.0
    df.loc[10, "measure"] = "PCL-5"
    with pytest.raises(InputError) as info:
        validate_participant_frame(df, "ptsd", SPECS["ptsd"], source="synthetic ptsd")
    message = str(info.value)
    assert message.startswith("2 problem(s) in synthetic ptsd:")
    assert "synthetic ptsd, data row 4, participant 'P01', column 'value': 200 is outside the CAPS-5 range" in message
    assert "synthetic ptsd, data row 11, participant 'P02', column 'measure': unknown measure 'PCL-5'" in message
    with pytest.raises(InputError, match=r"synthetic ptsd: missing column\(s\) \['timepoint'\]"):
        validate_participant_frame(df.drop(columns="timepoint"), "ptsd", SPECS["ptsd"], source="synthetic ptsd")


# ---------------------------------------------------------------- a hand-made file unlike the synthetic ones
HAND_MADE = """\
participant_id,timepoint,measure,value,site
007,final_preparation,alliance_total,5.5,A
007,post_1_week,alliance_total,6.25,A
007,baseline,GRID-HAMD,24,A
007,week_4,GRID-HAMD,10,A
007,month_3,GRID-HAMD,12,A
007,month_12,GRID-HAMD,9,A

012,baseline,GRID-HAMD,21,B
012,final_preparation,alliance_total,,B
012,post_1_week,alliance_total,4.1,B
012,week_4,GRID-HAMD,NA,B
012,month_3,GRID-HAMD,15,B
012,month_12,GRID-HAMD,11,B
A3,final_preparation,alliance_total,6,A
A3,post_1_week,alliance_total,6.5,A
A3,baseline,GRID-HAMD,19,A
A3,week_4,GRID-HAMD,3,A
A3,month_3,GRID-HAMD,2,A
A3,month_12,GRID-HAMD,0,A
B4,baseline,GRID-HAMD,26,B
B4,final_preparation,alliance_total,NA,B
B4,week_4,GRID-HAMD,,B
C5,final_preparation,alliance_total,3.75,A
C5,post_1_week,alliance_total,4,A
C5,baseline,GRID-HAMD,30,A
C5,week_4,GRID-HAMD,22,A
C5,month_3,GRID-HAMD,25,A
C5,month_12,GRID-HAMD,27,A
D6,final_preparation,alliance_total,7,B
D6,post_1_week,alliance_total,7,B
D6,baseline,GRID-HAMD,18,B
D6,week_4,GRID-HAMD,1,B
D6,month_3,GRID-HAMD,0,B
D6,month_12,GRID-HAMD,4,B
E7,final_preparation,alliance_total,5,A
E7,post_1_week,alliance_total,5.5,A
E7,baseline,GRID-HAMD,23,A
E7,week_4,GRID-HAMD,8,A
E7,month_3,GRID-HAMD,9,A
E7,month_12,GRID-HAMD,,A
"""


def test_hand_made_file_completed_and_logged(tmp_path):
    """n = 7, ids with leading zeros, a blank line, an extra column, month_6 absent for everyone, 5 empty/NA values,
    participant B4 with no alliance and no follow-up (only baseline) and missing rows of their own."""
    path = tmp_path / "hand.csv"
    path.write_text(HAND_MADE)
    clean, log, missingness = read_participants(path, "mdd", SPECS["mdd"])
    ids = ["007", "012", "A3", "B4", "C5", "D6", "E7"]
    assert list(clean["participant_id"].drop_duplicates()) == ids
    assert clean.shape == (7 * 7, 4)  # every participant has every design cell
    v = clean.set_index(["participant_id", "timepoint", "measure"])["value"]
    assert v[("007", "post_1_week", "alliance_total")] == 6.25
    assert v[("D6", "month_3", "GRID-HAMD")] == 0.0
    assert math.isnan(v[("A3", "month_6", "GRID-HAMD")])

    kept = log[log["action"] == "kept missing"]
    assert sorted(zip(kept["participant_id"], kept["timepoint"], strict=True)) == [
        ("012", "final_preparation"), ("012", "week_4"), ("B4", "final_preparation"), ("B4", "week_4"),
        ("E7", "month_12"),
    ]  # fmt: skip
    # line 10: header, 6 rows of 007, the blank line 8 (counted, as an editor shows it), 012's baseline on line 9
    assert kept["reason"].iloc[0] == f"{path}, line 10: empty value; kept as NaN (missing)"
    added = log[log["action"] == "added missing row"]
    assert len(added) == 7 + 3  # month_6 for all 7, plus B4's post_1_week, month_3, month_12
    assert set(added.loc[added["timepoint"] == "month_6", "participant_id"]) == set(ids)
    assert sorted(added.loc[added["participant_id"] == "B4", "timepoint"]) == [
        "month_12", "month_3", "month_6", "post_1_week",
    ]  # fmt: skip
    assert added["reason"].str.contains(f"no row in {path} for this participant").all()
    without = log[log["action"] == "kept participant without alliance or follow-up"]
    assert list(without["participant_id"]) == ["B4"]
    assert "kept (contributes baseline scores only)" in without["reason"].iloc[0]
    ignored = log[log["action"] == "ignored column"]
    assert len(ignored) == 1 and "column 'site'" in ignored["reason"].iloc[0]
    assert len(log) == 5 + 10 + 1 + 1

    m = missingness.set_index(["measure", "timepoint"])
    expected = {
        ("alliance_total", "final_preparation"): (5, 2),
        ("alliance_total", "post_1_week"): (6, 1),
        ("GRID-HAMD", "baseline"): (7, 0),
        ("GRID-HAMD", "week_4"): (5, 2),
        ("GRID-HAMD", "month_3"): (6, 1),
        ("GRID-HAMD", "month_6"): (0, 7),
        ("GRID-HAMD", "month_12"): (5, 2),
    }
    assert list(m.index) == list(expected)
    for cell, (observed, n_missing) in expected.items():
        assert tuple(m.loc[cell, ["n_expected", "n_observed", "n_missing"]]) == (7, observed, n_missing), cell
    assert clean["value"].isna().sum() == 5 + 10
