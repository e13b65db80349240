"""Join every fit's posterior summary, threshold probabilities and gate row into tables, with a track column."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

import pandas as pd

from models.predictive import PPC_COLUMNS, published_ppc
from reanalysis.fit_files import read_fit
from reanalysis.published_table import read_observations
from reanalysis.scripting import log_to, write_table
from reanalysis.summaries import (
    CONTRAST_COLUMNS,
    THRESHOLD_COLUMNS,
    level_contrasts,
    participant_threshold_probabilities,
    posterior_summary,
    threshold_probabilities,
)


def main(idata_paths, diagnostics_paths, obs_paths, thresholds, participant_thresholds, seed, outputs, log) -> None:
    obs_path = obs_paths[0]  # the main model's observations; the alt-n model's are read for its PPC
    obs = read_observations(obs_path)
    row_labels = {
        r["row_id"]: f"{r['study']}, {r['alliance_phase']}, {r['outcome']} @ {r['outcome_timepoint']}"
        for _, r in obs.iterrows()
    }
    summaries, probabilities, contrasts, ppcs, tracks = [], [], [], [], {}
    for path in idata_paths:
        idata = read_fit(path)
        model, prior = idata.attrs["model"], idata.attrs["prior_set"]
        track = tracks[model] = idata.attrs.get("track", "published")
        summaries.append(posterior_summary(idata, model, prior, row_labels).assign(track=track))
        if track == "published":
            probabilities.append(threshold_probabilities(idata, thresholds, model, prior).assign(track=track))
            contrasts.append(level_contrasts(idata, "alliance_phase", model, prior))
            model_obs = read_observations(obs_paths[0 if model == "published" else 1])
            rho = idata.posterior["rho_row"].sel(row=model_obs["row_id"].astype(str).tolist())
            draws = rho.stack(s=("chain", "draw")).transpose("row", "s").values
            ppcs.append(published_ppc(draws, model_obs, seed, model, prior))
        elif "slope_points" in idata.posterior:
            mcid = float(idata.attrs["mcid"])
            probs = participant_threshold_probabilities(idata, participant_thresholds, mcid, model, prior)
            probabilities.append(probs.assign(track=track))
        log.info("summarised %s (%s)", path, track)
    write_table(_track_first(pd.concat(summaries, ignore_index=True)), outputs.posterior_summary)
    probs = (
        pd.concat(probabilities, ignore_index=True)
        if probabilities
        else pd.DataFrame(columns=THRESHOLD_COLUMNS + ["track"])
    )
    write_table(_track_first(probs), outputs.threshold_probabilities)
    diagnostics = pd.concat([pd.read_csv(p) for p in diagnostics_paths], ignore_index=True)
    write_table(_track_first(diagnostics.assign(track=diagnostics["model"].map(tracks))), outputs.diagnostics)
    write_table(pd.concat(contrasts, ignore_index=True) if contrasts else pd.DataFrame(columns=CONTRAST_COLUMNS),
                outputs.contrasts)  # fmt: skip
    write_table(pd.concat(ppcs, ignore_index=True) if ppcs else pd.DataFrame(columns=PPC_COLUMNS), outputs.ppc)


def _track_first(df: pd.DataFrame) -> pd.DataFrame:
    return df[["track"] + [c for c in df.columns if c != "track"]]


with log_to(snakemake.log[0]) as log:
    main(
        list(snakemake.input.idata),
        list(snakemake.input.diagnostics),
        list(snakemake.input.observations),
        list(snakemake.params.thresholds),
        list(snakemake.params.participant_thresholds),
        int(snakemake.params.seed),
        snakemake.output,
        log,
    )
