"""reanalysis.snakemake_params: Snakemake's param serialisation, without importing pandas unless a value is a pandas
object; every value serialises exactly as Snakemake's own serialiser does."""

import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT
from snakemake.persistence.file import FilePersistence

from reanalysis.snakemake_params import serialise

VALUES = [
    {"backend": "nutpie", "chains": 4, "retry": {"draws": 4000, "target_accept": 0.995}},
    ["study", "alliance_phase"], "results/fits/published/reference.nc", 20241122, 0.05, None, True, (1, 2.5),
    frozenset({"a"}), b"bytes", lambda x: x, object(),
    pd.DataFrame({"a": [1, 2]}), pd.Series([0.5, 1.5]), pd.Index(["x", "y"]),
]  # fmt: skip


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_every_value_serialises_as_snakemakes_own_serialiser_does(value):
    persistence = object.__new__(FilePersistence)  # not initialised: the serialisers read nothing of it
    assert serialise(persistence, value) == persistence._serialize_param_pandas(value)


def test_installed_snakemake_reads_no_pandas_for_a_dry_run():
    """A dry run of the real workflow: Snakemake's process never imports pandas (it did, for the params)."""
    code = (
        "import sys, snakemake.cli\n"
        "sys.argv = ['snakemake', '-n', '--cores', '1', '-q', '--nolock', '--config', 'worker=False']\n"
        "try:\n    snakemake.cli.main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr
