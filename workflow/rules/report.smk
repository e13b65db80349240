# Report stage: tables joined over fits, figures, and the one self-contained HTML report.


rule summarise:
    input:
        idata=get_all_idata,
        diagnostics=get_all_diagnostics,
        observations=expand(
            rules.observations.output.observations,
            n_source=config["published"]["n_source"],
        ),
    output:
        posterior_summary="results/tables/posterior_summary.csv",
        threshold_probabilities="results/tables/threshold_probabilities.csv",
        diagnostics="results/tables/diagnostics.csv",
        contrasts="results/tables/phase_contrasts.csv",
    log:
        "logs/report/summarise.log",
    conda:
        "../../environment.yml"
    params:
        thresholds=config["thresholds"],
    script:
        "../scripts/summarise.py"


rule plot_forest:
    input:
        idata=get_main_idata,
        observations=expand(
            rules.observations.output.observations,
            n_source=config["published"]["n_source"],
        ),
    output:
        figure="results/figures/published/forest.png",
    log:
        "logs/report/plot_forest.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/plot_forest.py"


rule plot_densities:
    input:
        idata=get_main_idata,
    output:
        figure="results/figures/published/rho_densities.png",
    log:
        "logs/report/plot_densities.log",
    conda:
        "../../environment.yml"
    script:
        "../scripts/plot_densities.py"


rule report:
    input:
        raw=[config["data"]["published"], config["data"]["benchmarks"]],
        cleaning_log=rules.validate_published.output.cleaning_log,
        audit=rules.audit_published.output.audit,
        observations=expand(
            rules.observations.output.observations, n_source=["reported", "implied"]
        ),
        dropped=expand(
            rules.observations.output.dropped, n_source=config["published"]["n_source"]
        ),
        posterior_summary=rules.summarise.output.posterior_summary,
        threshold_probabilities=rules.summarise.output.threshold_probabilities,
        diagnostics=rules.summarise.output.diagnostics,
        contrasts=rules.summarise.output.contrasts,
        forest=rules.plot_forest.output.figure,
        densities=rules.plot_densities.output.figure,
        template=workflow.source_path("../report/report.html.j2"),
    output:
        html="results/report.html",
    log:
        "logs/report/report.log",
    conda:
        "../../environment.yml"
    params:
        config=config,
    script:
        "../scripts/report.py"
