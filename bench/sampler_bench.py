"""Sampler choice by measurement: nutpie vs PyMC's NUTS (C backend), cold and warm compile cache, per model.

    python bench/sampler_bench.py --out bench/results/samplers.json

Each cell is a fresh Python process (what a Snakemake job is): build the model, compile, sample with the
config's settings (chains, draws, tune, target_accept; 2 cores), then the smallest bulk ESS over the model's
reported parameters (models.reported). "Cold" uses an empty PyTensor compile directory, "warm" the one the cold
run filled. Reported: wall seconds of the whole process, seconds to 400 effective draws (wall x 400 / min ESS),
and effective draws per second of sampling alone. Needs results/ from a pipeline run (observations, cohorts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"

SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
import arviz as az, yaml
from models.reported import reported
from models.sampling import SamplerSettings, sample_posterior
from reanalysis import builders
from reanalysis.config import validate_config
cfg = validate_config(yaml.safe_load(open("config.yaml")))
which, backend = sys.argv[1], sys.argv[2]
if which == "published":
    built = builders.published("results/data/published/observations.reported.csv", cfg["published"]["grouping"],
                               cfg["priors"]["reference"], cfg["published"]["likelihood"])
else:
    cohort, kind, outcome = which.split(":")
    info = {"cohort": cohort, "kind": kind, "outcome": outcome or None}
    built = builders.participant(f"results/data/{cohort}/clean.csv", info, cfg["cohorts"][cohort],
                                 cfg["priors"]["reference"], cfg["participant_residual"])
s = SamplerSettings.from_config({**cfg["sampler"], "backend": backend}, cores=2)
t1 = time.perf_counter()
idata = sample_posterior(built.model, s, seed=cfg["seed"])
t2 = time.perf_counter()
names = reported(idata.posterior.data_vars, built.kind)
ess = float(az.ess(idata, var_names=names, method="bulk").to_array().min())
print(json.dumps({"process_s": t2 - t0, "fit_s": t2 - t1, "min_ess_bulk": ess, "chains": s.chains,
                  "draws": s.draws, "tune": s.tune}))
"""

MODELS = {"published": "Track A (published statistics)", "ptsd:outcome:CAPS-5": "Track B outcome (PTSD, CAPS-5)",
          "ptsd:alliance:": "Track B alliance trajectory (PTSD)"}  # fmt: skip


def run(model: str, backend: str, compiledir: Path) -> dict:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compiledir}"}
    out = subprocess.run([str(PYTHON), "-c", SNIPPET, model, backend], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    r = json.loads(out.strip().splitlines()[-1])
    r["s_to_400_ess"] = r["process_s"] * 400.0 / r["min_ess_bulk"]
    r["ess_per_s_sampling"] = r["min_ess_bulk"] / r["fit_s"]
    return r


def main(out: Path) -> dict:
    results = {}
    for model, label in MODELS.items():
        for backend in ("nutpie", "pymc"):
            with tempfile.TemporaryDirectory(prefix="bench-compiledir-") as tmp:
                cold = run(model, backend, Path(tmp))
                warm = run(model, backend, Path(tmp))
            results[f"{model}|{backend}"] = {"model": label, "backend": backend, "cold": cold, "warm": warm}
            print(model, backend, json.dumps({"cold": cold, "warm": warm}), flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "samplers.json")
    args = parser.parse_args()
    if not (ROOT / "results" / "data" / "published" / "observations.reported.csv").exists():
        sys.exit("run the pipeline first (make run): the benchmark fits the pipeline's own data")
    main(args.out)
