"""reanalysis.scripting.join_tables: per-fit tables stacked into one, every cell copied as written."""

import pandas as pd
import pytest

from reanalysis.scripting import join_tables, write_table


def test_cells_are_copied_as_written_in_input_order(tmp_path):
    first, second, empty = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_table(pd.DataFrame({"model": ["m"], "observed": ["-0.30"], "value": [0.123456789]}), first)
    write_table(pd.DataFrame({"model": ["NA"], "observed": ["r in [0.10, 0.20]"], "value": [float("nan")]}), second)
    write_table(pd.DataFrame(columns=["model", "observed", "value"]), empty)
    joined = join_tables([str(second), str(empty), str(first)])
    out = tmp_path / "joined.csv"
    write_table(joined, out)
    # "-0.30" is not re-read as -0.3, "NA" stays a name, the missing value stays empty, 6 digits stay 6 digits
    assert out.read_text().splitlines() == [
        "model,observed,value", "NA,\"r in [0.10, 0.20]\",", "m,-0.30,0.123457",
    ]  # fmt: skip


def test_only_header_only_tables_join_to_the_header(tmp_path):
    paths = [tmp_path / f"{i}.csv" for i in range(2)]
    for p in paths:
        write_table(pd.DataFrame(columns=["model", "contrast"]), p)
    joined = join_tables([str(p) for p in paths])
    assert list(joined.columns) == ["model", "contrast"] and joined.empty


def test_a_table_of_another_layout_is_named(tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    write_table(pd.DataFrame({"model": ["m"], "value": [1.0]}), good)
    write_table(pd.DataFrame({"model": ["m"], "val": [1.0]}), bad)
    with pytest.raises(ValueError, match=r"bad\.csv: columns \['model', 'val'\]; expected those of .*good\.csv"):
        join_tables([str(good), str(bad)])
