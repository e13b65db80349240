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
