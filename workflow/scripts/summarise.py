"""Join every fit's tables and gate rows (check_fit jobs) into the report's tables, with a track column."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from reanalysis.scripting import join_tables, log_to, write_table
from reanalysis.summaries import FIT_TABLES


def main(inputs, diagnostics_paths, outputs, log) -> None:
    tracks = {}
    for name in FIT_TABLES:
        table = join_tables(list(inputs[name]))
        if name == "posterior_summary":
            tracks = dict(zip(table["model"], table["track"], strict=True))
        write_table(_track_first(table) if "track" in table else table, outputs[name])
    diagnostics = join_tables(diagnostics_paths)
    base = diagnostics["model"].str.split(".", n=1).str[0]  # a LOO variant's row ("published.phase_pooled") too
    write_table(_track_first(diagnostics.assign(track=base.map(tracks))), outputs.diagnostics)
    log.info("joined the tables of %d fits", len(diagnostics_paths))


def _track_first(df):
    return df[["track"] + [c for c in df.columns if c != "track"]]


with log_to(snakemake.log[0]) as log:
    main(snakemake.input, list(snakemake.input.diagnostics), snakemake.output, log)
