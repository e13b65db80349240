"""Shared paths and a writer of modified copies of the real published table."""

import csv
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
COHORT_SPECS = CONFIG["cohorts"]
PUBLISHED_DIR = ROOT / "data" / "raw" / "published"
PUBLISHED_CSV = PUBLISHED_DIR / "alliance_outcome_published.csv"


def read_rows(path: Path = PUBLISHED_CSV) -> tuple[list[str], list[dict]]:
    """Header and rows (as dicts of text) of a CSV, read with the csv module only."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


@pytest.fixture
def write_published(tmp_path):
    """write_published(edits, drop=None) -> path of a copy of the real table with cells replaced.

    ``edits`` is a list of (row_id, column, new text); rows keep their order, so the CSV line of the
    i-th data row stays i + 2.
    """

    def _write(edits=(), drop: str | None = None, name: str = "published.csv") -> Path:
        header, rows = read_rows()
        for row_id, column, text in edits:
            matches = [r for r in rows if r["row_id"] == row_id]
            assert len(matches) == 1, f"edit names unknown row {row_id}"
            matches[0][column] = text
        if drop is not None:
            header = [c for c in header if c != drop]
            rows = [{c: r[c] for c in header} for r in rows]
        path = tmp_path / name
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        return path

    return _write


def scipy_log_normal_interval(a, b, mu, sd):
    """log(Phi(zb) - Phi(za)) with scipy, taking the difference in log space in whichever tail it lies."""
    za, zb = (a - mu) / sd, (b - mu) / sd
    if zb <= 0:
        lb = stats.norm.logcdf(zb)
        return lb + np.log1p(-np.exp(stats.norm.logcdf(za) - lb))
    if za >= 0:
        la = stats.norm.logsf(za)
        return la + np.log1p(-np.exp(stats.norm.logsf(zb) - la))
    return np.log(stats.norm.cdf(zb) - stats.norm.cdf(za))


# --- one tiny pipeline run shared by the audit tests (determinism, provenance, snakemake --report, browser) ---------


def run_snakemake(workdir: Path, *args: str, cores: int = 2, timeout: int = 900):
    """The real Snakefile on ``workdir/config.yaml``; returns the CompletedProcess (output captured)."""
    import subprocess
    import sys

    snakemake = str(Path(sys.executable).parent / "snakemake")
    cmd = [snakemake, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", str(cores), *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def audit_config() -> dict:
    """The end-to-end tests' tiny config cut to what is fastest: Track A only, one prior set, no n sensitivity fit
    (one fit job, about a minute for the whole pipeline)."""
    from test_pipeline_e2e import tiny_config

    cfg = tiny_config()
    cfg["priors"] = {"reference": cfg["priors"]["reference"]}
    cfg["published"]["n_sensitivity_prior"] = ""
    cfg["cohorts"] = {}
    return cfg


@pytest.fixture(scope="session")
def audit_run(tmp_path_factory) -> Path:
    """Working directory of one finished tiny run (``--cores 4``); tests that change it work on a copy."""
    workdir = tmp_path_factory.mktemp("audit_run")
    (workdir / "config.yaml").write_text(yaml.safe_dump(audit_config(), sort_keys=False))
    result = run_snakemake(workdir, cores=4)
    assert result.returncode == 0, f"tiny pipeline run failed in {workdir}:\n{result.stderr[-4000:]}"
    return workdir


def published_observations():
    """Track A observations built from the raw published table with the table's n (no pipeline run needed)."""
    from models.evidence import EvidenceSettings, build_observations
    from reanalysis.published_table import read_published

    p = CONFIG["published"]
    m = p["multiplicity"]
    settings = EvidenceSettings(
        alpha=p["alpha"], correction=m["correction"], family_size=m["family_size"],
        family_size_by_study=m["family_size_by_study"], omitted_rows=p["omitted_rows"],
        std_beta_extra_sd=p["std_beta_extra_sd"], widen_for_rounding=p["widen_for_rounding"],
        shared_sample_error_correlation=p["shared_sample_error_correlation"],
    )  # fmt: skip
    table, _ = read_published(ROOT / CONFIG["data"]["published"])
    return build_observations(table, table.set_index("row_id")["n"], settings)[0]


def shared_values(model, names):
    """The current values of the model's pm.Data ``names``, in that order (a kernel's trailing arguments)."""
    return [np.asarray(model[n].get_value()) for n in names]


def _assert_same_density(logp, grad, ref_logp, ref_grad):
    """A hand-written kernel's log density and gradient equal PyMC's (the tolerances of every kernel test)."""
    from numpy.testing import assert_allclose

    assert_allclose(logp, ref_logp, rtol=1e-10)
    assert_allclose(grad, ref_grad, rtol=1e-7, atol=1e-9)


def assert_kernel_agrees(kernel, model, names, seed, n=40):
    """A hand-written kernel (shared variables ``names``) gives PyMC's C-backend log density and gradient of
    ``model`` at ``n`` random points, scaled from 0.1 to 2.5."""
    from models.compile import logp_dlogp_reference

    reference, n_dim = logp_dlogp_reference(model, mode=None)
    rng = np.random.default_rng(seed)
    for i in range(n):
        x = rng.standard_normal(n_dim) * (0.1, 1.0, 2.5)[i % 3]
        _assert_same_density(*kernel(x, *shared_values(model, names)), *reference(x))


def call_nutpie_logp(compiled, x):
    """(status, log density, gradient) from the C callback nutpie samples ``compiled`` with, at ``x``."""
    import ctypes

    as_ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))  # noqa: E731
    grad, logp = np.zeros(compiled.n_dim), np.zeros(1)
    status = compiled.compiled_logp_func.ctypes(compiled.n_dim, as_ptr(x), as_ptr(grad), as_ptr(logp),
                                                ctypes.c_void_p(compiled.user_data.ctypes.data))  # fmt: skip
    return status, logp[0], grad


def assert_callback_agrees(model, compiled_models, xs) -> list[float]:
    """nutpie's C callback of each compiled model (``model`` compiled, perhaps with other pm.Data values swapped in
    by ``with_data``) gives PyMC's log density and gradient of ``model`` with that compiled model's values, at each
    of ``xs``. Returns the log densities, in order. The model's pm.Data are restored afterwards."""
    from models.compile import logp_dlogp_reference

    reference, _ = logp_dlogp_reference(model)  # reads the pm.Data values when called
    saved = {v.name: v.get_value() for v in model.data_vars}
    seen = []
    try:
        for c in compiled_models:
            for name, value in c.shared_data.items():
                model[name].set_value(value)
            for x in xs:
                status, logp, grad = call_nutpie_logp(c, x)
                assert status == 0
                _assert_same_density(logp, grad, *reference(x))
                seen.append(logp)
    finally:
        for name, value in saved.items():
            model[name].set_value(value)
    return seen
