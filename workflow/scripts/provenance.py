"""Write results/provenance.json: git state, packages, the resolved config and its diff against the default,
input hashes, seeds and the runtime of every benchmarked job."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import datetime as dt
import json
from pathlib import Path

from reanalysis.provenance import build_provenance
from reanalysis.scripting import log_to


def main(inputs, params, out, log) -> None:
    record = build_provenance(
        config=dict(params.config),
        default=dict(params.default_config),
        default_source=params.default_source,
        git=dict(params.git),
        inputs=list(inputs.data),
        benchmarks=list(inputs.benchmarks),
        seeds=dict(params.seeds),
        configfiles=list(params.configfiles),
        graph=json.loads(Path(inputs.graph).read_text()),
        built_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        logs=dict(params.logs),
    )
    Path(out).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log.info("wrote %s: %d jobs, %d config differences", out, len(record["jobs"]), len(record["config_diff"]))


with log_to(snakemake.log[0]) as log:
    main(snakemake.input, snakemake.params, snakemake.output.json, log)
