"""Render results/report.html from the declared inputs."""

from pathlib import Path

from reanalysis.report import build_context, render
from reanalysis.scripting import log_to


def main(inputs, config: dict, template: str, out: str, repo_dir: str, log) -> None:
    html = render(template, build_context(inputs, config, repo_dir))
    Path(out).write_text(html, encoding="utf-8")
    log.info("wrote %s (%d kB)", out, len(html) // 1024)


with log_to(snakemake.log[0]) as log:
    main(snakemake.input, dict(snakemake.params.config), snakemake.input.template, snakemake.output.html,
         str(Path(snakemake.scriptdir).parents[1]), log)  # fmt: skip
