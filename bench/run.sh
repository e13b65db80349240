#!/usr/bin/env bash
# One bench run, side by side: the pipeline (a-e, memory), the samplers, the hand-written gradients, sampler
# settings against the gate, brms; then bench/results.md.
# Needs the project's .venv and a pipeline run's results/ (for the sampler and brms fits); brms needs R
# (bench/README.md, "brms comparison") and is skipped with a message when R is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY bench/pipeline_bench.py --out bench/results/pipeline.json --cores "${CORES:-4}"
$PY bench/sampler_bench.py --out bench/results/samplers.json
$PY bench/gradient_bench.py --out bench/results/gradients.json
$PY bench/settings_bench.py --out bench/results/settings.jsonl --seeds 8 \
    --settings 2000,500,0.99 2000,1000,0.99 1000,500,0.99 1000,500,0.9
$PY bench/brms_bench.py --out bench/results/brms.json --pymc-track-b || echo "brms benchmark skipped (exit $?)"
$PY bench/report.py
