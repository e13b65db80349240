"""Which sampler settings pass the convergence gate: the evidence behind config.yaml's `sampler` block.

    python bench/settings_bench.py --seeds 8 --settings 2000,500,0.99 1000,500,0.99 --out bench/results/settings.jsonl

Each model is compiled once (nutpie), then sampled with every (draws, tune, target_accept) and seed; every
fit is judged by the pipeline's own gate (config `gate`, all posterior variables). One JSON line per fit:
wall seconds of sampling, mean leapfrog steps per draw, the gate's verdict and its worst R-hat / ESS. Needs
results/ from a pipeline run (observations, cohorts). Not a timed test: a record of what was measured.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# Track A under the reference and the sceptical prior (its sigma_study mixes worst), every Track B model
MODELS = [("published", "reference"), ("published", "sceptical"), ("ptsd:outcome:CAPS-5", "reference"),
          ("ptsd:outcome:IES-R", "sceptical"), ("mdd:outcome:GRID-HAMD", "reference"),
          ("ptsd:alliance:", "reference"), ("mdd:alliance:", "reference")]  # fmt: skip


def build(cfg: dict, which: str, prior: str, residual: str | None = None):
    """The model ``which`` ("published" or "cohort:kind:outcome") under prior set ``prior``, from a pipeline run's
    results/; ``residual``: the Track B outcome model's residual (default: config ``participant_residual``)."""
    from reanalysis import builders

    if which == "published":
        p = cfg["published"]
        obs = ROOT / "results/data/published/observations.reported.csv"
        return builders.published(obs, p["grouping"], cfg["priors"][prior], p["likelihood"])
    cohort, kind, outcome = which.split(":")
    info = {"cohort": cohort, "kind": kind, "outcome": outcome or None}
    clean = ROOT / f"results/data/{cohort}/clean.csv"
    residual = residual or cfg["participant_residual"]
    return builders.participant(clean, info, cfg["cohorts"][cohort], cfg["priors"][prior], residual)


def main(settings: list[tuple[int, int, float]], seeds: int, out: Path) -> None:
    from models import nutpie_trace
    from models.compile import compile_nutpie
    from reanalysis.config import validate_config
    from reanalysis.diagnostics import Gate, check

    cfg = validate_config(yaml.safe_load((ROOT / "config.yaml").read_text()))
    gate = Gate.from_config(cfg["gate"])
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = collections.Counter()
    with out.open("w") as fh:
        for which, prior in MODELS:
            compiled = compile_nutpie(build(cfg, which, prior).model)
            for draws, tune, target_accept in settings:
                for seed in range(seeds):
                    t0 = time.perf_counter()
                    kw = {"draws": draws, "tune": tune, "chains": cfg["sampler"]["chains"], "cores": 2}
                    idata = nutpie_trace.sample(
                        compiled, seed=1000 + seed, target_accept=target_accept, progress_bar=False, **kw
                    )
                    seconds = time.perf_counter() - t0
                    row = check(idata, gate, which, prior)
                    rec = {"model": which, "prior": prior, "draws": draws, "tune": tune, "target_accept": target_accept,
                           "seed": 1000 + seed, "sample_s": round(seconds, 2),
                           "steps_per_draw": round(float(idata.sample_stats["n_steps"].mean()), 1),
                           "passed": row["passed"], "max_r_hat": row["max_r_hat"], "min_ess_bulk": row["min_ess_bulk"],
                           "min_ess_tail": row["min_ess_tail"], "divergences": row["divergences"],
                           "failures": row["failures"]}  # fmt: skip
                    fh.write(json.dumps(rec) + "\n")
                    fh.flush()
                    failed[(draws, tune, target_accept)] += not row["passed"]
    for s in settings:
        print(f"draws {s[0]}, tune {s[1]}, target_accept {s[2]}: failed {failed[s]} of {len(MODELS) * seeds}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--settings", nargs="+", default=["2000,500,0.99"], help="draws,tune,target_accept")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "settings.jsonl")
    args = parser.parse_args()
    parsed = [(int(d), int(t), float(a)) for d, t, a in (s.split(",") for s in args.settings)]
    main(parsed, args.seeds, args.out)
