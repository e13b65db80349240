"""Render results/report.html from the declared inputs (and the config, passed as params)."""

from reanalysis.worker import delegate

delegate(snakemake)  # runs this script in the pipeline's pre-imported worker process, when there is one

from pathlib import Path

from reanalysis.report import build_context, declared_reads_only, render_with_checklist
from reanalysis.scripting import log_to


def main(inputs, config: dict, template: str, out: str, roots: list[str], log) -> None:
    with declared_reads_only(list(inputs), roots):  # reading anything else in the project fails the job
        html = render_with_checklist(template, build_context(inputs, config))
    Path(out).write_text(html, encoding="utf-8")
    log.info("wrote %s (%d kB)", out, len(html) // 1024)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input, dict(snakemake.params.config), snakemake.input.template, snakemake.output.html,
         [str(Path.cwd()), str(Path(snakemake.scriptdir).parents[1])], log)  # fmt: skip
