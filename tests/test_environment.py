"""The declared environments agree: environment.yml mirrors requirements.lock, and every pin is exact."""

import importlib.util
import re
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = ["pymc", "arviz", "snakemake", "pandas", "matplotlib", "nutpie", "jsonschema", "jinja2", "pytest"]


def _lock() -> list[str]:
    return [line for line in (REPO / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")]


def test_every_lock_line_is_an_exact_pin():
    bad = [line for line in _lock() if not re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", line)]
    assert bad == []
    names = {line.split("==")[0].lower() for line in _lock()}
    assert set(CORE) <= names


def test_environment_yml_mirrors_the_lock():
    spec = importlib.util.spec_from_file_location("sync", REPO / "tools" / "sync_environment.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    assert (REPO / "environment.yml").read_text() == sync.render(_lock()), "run: python tools/sync_environment.py"


def test_installed_versions_match_the_lock():
    pins = {name.lower(): version for name, version in (line.split("==") for line in _lock())}
    for name in CORE:
        assert metadata.version(name) == pins[name], name


def test_ci_runs_the_readme_test_command():
    readme, ci = (REPO / "README.md").read_text(), (REPO / ".ci" / "run").read_text()
    assert "make run" in readme and "make test" in readme
    assert re.search(r"^make test$", ci, re.M)
