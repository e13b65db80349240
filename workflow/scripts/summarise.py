"""Join every fit's posterior summary, threshold probabilities and gate row into three tables."""

import arviz as az
import pandas as pd
from reanalysis.published_table import read_observations
from reanalysis.scripting import log_to, write_table
from reanalysis.summaries import CONTRAST_COLUMNS, level_contrasts, posterior_summary, threshold_probabilities


def main(idata_paths, diagnostics_paths, obs_path, thresholds, outputs, log) -> None:
    obs = read_observations(obs_path)
    row_labels = {
        r["row_id"]: f"{r['study']}, {r['alliance_phase']}, {r['outcome']} @ {r['outcome_timepoint']}"
        for _, r in obs.iterrows()
    }
    summaries, probabilities, contrasts = [], [], []
    for path in idata_paths:
        idata = az.from_netcdf(path)
        model, prior = idata.attrs["model"], idata.attrs["prior_set"]
        summaries.append(posterior_summary(idata, model, prior, row_labels))
        probabilities.append(threshold_probabilities(idata, thresholds, model, prior))
        if "rho_alliance_phase" in idata.posterior:
            contrasts.append(level_contrasts(idata, "alliance_phase", model, prior))
        log.info("summarised %s", path)
    write_table(pd.concat(summaries, ignore_index=True), outputs.posterior_summary)
    write_table(pd.concat(probabilities, ignore_index=True), outputs.threshold_probabilities)
    write_table(pd.concat([pd.read_csv(p) for p in diagnostics_paths], ignore_index=True), outputs.diagnostics)
    write_table(pd.concat(contrasts, ignore_index=True) if contrasts else pd.DataFrame(columns=CONTRAST_COLUMNS),
                outputs.contrasts)  # fmt: skip


with log_to(snakemake.log[0]) as log:
    main(list(snakemake.input.idata), list(snakemake.input.diagnostics), snakemake.input.observations[0],
         list(snakemake.params.thresholds), snakemake.output, log)  # fmt: skip
