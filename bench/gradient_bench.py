"""Hand-written log density and gradient against PyTensor's compiled graph, side by side, per model.

    python bench/gradient_bench.py --out bench/results/gradients.json [--reps 3]

For each model, one process compiles it twice (``sampler.gradient: handwritten`` and ``pytensor``, warm compile
cache after the first run), then samples with the config's settings (chains, draws, tune, target_accept; 2 cores)
alternating the two, ``reps`` times with the same seeds. Reported: median sampling seconds of each and their ratio,
the leapfrog steps (equal when the two give the same trajectories), and the largest difference of the posterior
means of the reported parameters. Needs results/ from a pipeline run (observations, cohorts).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
# model, residual of the Track B outcome model (None: Track A; the alliance model's is normal)
MODELS = [
    ("published", None),
    ("ptsd:outcome:CAPS-5", "normal"),
    ("mdd:outcome:GRID-HAMD", "normal"),
    ("ptsd:outcome:CAPS-5", "student_t"),
    ("mdd:outcome:GRID-HAMD", "student_t"),
    ("ptsd:alliance:", "normal"),  # the alliance model's likelihood is normal; it has no residual setting
    ("mdd:alliance:", "normal"),
]

SNIPPET = """
import json, statistics, sys, time
sys.path.insert(0, "bench")
import numpy as np, yaml
from models import nutpie_trace
from models.compile import compile_nutpie
from models.reported import reported
from reanalysis.config import validate_config
from settings_bench import build
cfg = validate_config(yaml.safe_load(open("config.yaml")))
which, residual, reps = sys.argv[1], sys.argv[2], int(sys.argv[3])
built = build(cfg, which, "reference", None if residual == "-" else residual)
s = cfg["sampler"]
compiled = {g: compile_nutpie(built.model, g) for g in ("handwritten", "pytensor")}
seconds, steps, means = {g: [] for g in compiled}, {g: [] for g in compiled}, {g: [] for g in compiled}
for rep in range(reps):
    for g, c in compiled.items():
        t = time.perf_counter()
        idata = nutpie_trace.sample(c, seed=rep + 1, draws=s["draws"], tune=s["tune"], chains=s["chains"], cores=2,
                                    target_accept=s["target_accept"], progress_bar=False)
        seconds[g].append(time.perf_counter() - t)
        steps[g].append(int(idata.sample_stats["n_steps"].sum()))
        names = reported(idata.posterior.data_vars, built.kind)
        means[g].append(np.concatenate([np.ravel(idata.posterior[n].mean(("chain", "draw"))) for n in names]))
diff = max(float(np.max(np.abs(a - b))) for a, b in zip(means["handwritten"], means["pytensor"]))
print(json.dumps({"seconds": seconds, "steps": steps, "max_mean_difference": diff,
                  "median_s": {g: statistics.median(v) for g, v in seconds.items()}}))
"""


def run(model: str, residual: str | None, reps: int) -> dict:
    out = subprocess.run([str(PYTHON), "-c", SNIPPET, model, residual or "-", str(reps)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    result = json.loads(out.strip().splitlines()[-1])
    result["ratio"] = result["median_s"]["pytensor"] / result["median_s"]["handwritten"]
    return {"model": model, "residual": residual or "fisher_z", **result}


def main(out: Path, reps: int) -> list[dict]:
    results = []
    for model, residual in MODELS:
        results.append(run(model, residual, reps))
        r = results[-1]
        print(f"{model} {r['residual']}: handwritten {r['median_s']['handwritten']:.2f} s, "
              f"pytensor {r['median_s']['pytensor']:.2f} s ({r['ratio']:.1f}x)", flush=True)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "gradients.json")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    main(args.out, args.reps)
