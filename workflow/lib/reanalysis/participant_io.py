"""Read the clean long participant table that the participant_data rule wrote."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def read_clean_participants(path: str | Path) -> pd.DataFrame:
    """Long table: participant ids and labels stay text (ids like "007" keep their zeros), values are floats."""
    df = pd.read_csv(path, dtype={"participant_id": str, "timepoint": str, "measure": str}, keep_default_na=False)
    df["value"] = pd.to_numeric(df["value"].replace("", None), errors="raise").astype(float)
    return df
