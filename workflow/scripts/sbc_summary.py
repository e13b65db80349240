"""Join one model's SBC chunks: per-parameter verdict table and the ECDF/rank-histogram figure."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import pandas as pd

from models import sbc
from reanalysis import workflow_plots
from reanalysis.plots import save
from reanalysis.scripting import log_to, write_table


def main(chunks, model, band_prob, ci_prob, synthetic, out, log):
    ranks = pd.concat([pd.read_csv(c) for c in chunks], ignore_index=True)
    expected = ranks["replicate"].nunique() * ranks["parameter"].nunique()
    if len(ranks) != expected:  # every replicate must rank every parameter; a lost chunk row would bias the ECDF
        raise ValueError(f"{model}: {len(ranks)} rank rows, expected {expected} (replicates x parameters)")
    summary = sbc.summarise(ranks, prob=band_prob, ci_prob=ci_prob)
    summary.insert(0, "model", model)
    summary["divergent_replicates"] = int((ranks.groupby("replicate")["divergences"].max() > 0).sum())
    write_table(summary, out.summary)
    write_table(ranks, out.ranks)
    title = f"SBC of {model}: {ranks['replicate'].nunique()} replicates"
    save(workflow_plots.sbc_ecdf(ranks, prob=band_prob, title=title, synthetic=synthetic), out.figure)
    log.info("%s: %s", model, summary[["parameter", "verdict"]].to_dict("records"))


with log_to(snakemake.log[0]) as log:
    main(
        list(snakemake.input.chunks),
        snakemake.wildcards.model,
        float(snakemake.params.band_prob),
        float(snakemake.params.ci_prob),
        bool(snakemake.params.synthetic),
        snakemake.output,
        log,
    )
