"""Glue for Snakemake scripts: send logging and stderr to the rule's log file, and write tables."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def log_to(path: str):
    """Route logging and stderr to ``path``; a failure is logged with its traceback, then re-raised."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        logging.basicConfig(
            stream=handle, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", force=True
        )
        old_stderr, sys.stderr = sys.stderr, handle
        try:
            yield logging.getLogger("pipeline")
        except Exception:
            handle.write(traceback.format_exc())
            raise
        finally:
            sys.stderr = old_stderr


def write_table(df: pd.DataFrame, path: str) -> None:
    """CSV with 6 significant digits: stable across runs and readable by a reviewer."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format="%.6g")


def join_tables(paths: list[str]) -> pd.DataFrame:
    """Tables of one layout stacked in ``paths`` order, read as text: every cell is copied as it was written (no
    second rounding, no "NA" read as missing). Header-only tables add no rows."""
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths]
    columns = [list(f.columns) for f in frames]
    for path, cols in zip(paths, columns, strict=True):
        if cols != columns[0]:
            raise ValueError(f"{path}: columns {cols}; expected those of {paths[0]}: {columns[0]}")
    rows = [f for f in frames if len(f)]
    return pd.concat(rows, ignore_index=True) if rows else frames[0]
