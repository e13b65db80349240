#!/usr/bin/env bash
# brms side of the benchmark: both Track A and Track B brms models, timed, compared with the PyMC fits.
#   bench/brms/run.sh OUT_JSON [extra options of bench/brms_bench.py, e.g. --pymc-track-b --nice 10]
# Needs R with brms (Debian: see bench/README.md, "brms comparison"); the pipeline itself never needs R.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ $# -lt 1 ]; then
  echo "usage: $0 OUT_JSON [bench/brms_bench.py options]" >&2
  exit 2
fi
out="$1"; shift
hint="apt-get update && apt-get install -y --no-install-recommends r-cran-brms r-cran-rstan r-cran-jsonlite build-essential"
if ! command -v Rscript >/dev/null 2>&1; then
  echo "brms benchmark: Rscript not found (R is needed for the brms benchmark only). Install: $hint" >&2
  exit 3
fi
if ! Rscript --vanilla -e 'quit(status = !all(sapply(c("brms", "rstan", "jsonlite"), requireNamespace, quietly = TRUE)))' >/dev/null 2>&1; then
  echo "brms benchmark: R package brms (or rstan/jsonlite) not installed. Install: $hint" >&2
  exit 3
fi
python="$root/.venv/bin/python"
[ -x "$python" ] || python="$(command -v python3)"
exec "$python" "$root/bench/brms_bench.py" --out "$out" "$@"
