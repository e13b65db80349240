"""Provenance that travels with outputs: file hashes, package versions, the git state."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

ANALYSIS_PACKAGES = [
    "pymc", "pytensor", "nutpie", "arviz", "numpy", "scipy", "pandas", "xarray", "matplotlib", "snakemake",
    "jsonschema", "jinja2", "pyyaml",
]  # fmt: skip


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ANALYSIS_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_state(directory: str | Path) -> dict[str, str]:
    """Commit and whether the work tree differs from it; 'not a git checkout' outside one."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return {"commit": "not a git checkout", "dirty": "unknown"}
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return {"commit": head.stdout.strip(), "dirty": "yes" if dirty else "no"}


def fit_attrs(track: str, model: str, prior_name: str, prior_set: dict, seed: int, sampler: dict, data_path) -> dict:
    """What every fitted InferenceData carries about how it was made (NetCDF attrs must be text or numbers)."""
    return {
        "track": track,
        "model": model,
        "prior_set": prior_name,
        "prior": json.dumps(prior_set),
        "seed": seed,
        "sampler": json.dumps(sampler),
        "data_sha256": sha256(data_path),
        "packages": json.dumps(package_versions()),
    }
