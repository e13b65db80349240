# Report stage: tables joined over fits, figures, and the one self-contained HTML report.


rule summarise:
    input:
        idata=get_all_idata,
        diagnostics=get_all_diagnostics,
        observations=[
            f"results/data/published/observations.{n}.csv" for n in get_n_sources()
        ],
    output:
        posterior_summary="results/tables/posterior_summary.csv",
        threshold_probabilities="results/tables/threshold_probabilities.csv",
        diagnostics="results/tables/diagnostics.csv",
        contrasts="results/tables/phase_contrasts.csv",
        ppc="results/tables/ppc_published.csv",
    log:
        "logs/report/summarise.log",
    conda:
        "../../environment.yml"
    params:
        thresholds=config["thresholds"],
        participant_thresholds=config["participant_thresholds"],
        seed=config["seed"],
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


rule plot_participant:
    input:
        idata=get_model_idata_all_priors,
    output:
        slopes="results/figures/{model}/slopes.png",
        ppc="results/figures/{model}/ppc.png",
    log:
        "logs/report/plot_participant.{model}.log",
    wildcard_constraints:
        model=one_of(outcome_models()),
    conda:
        "../../environment.yml"
    params:
        spec=get_model_cohort_spec,
    script:
        "../scripts/plot_participant.py"


rule plot_alliance:
    input:
        idata=get_alliance_idata,
    output:
        figure="results/figures/{cohort}_alliance/trajectory.png",
    log:
        "logs/report/plot_alliance.{cohort}.log",
    conda:
        "../../environment.yml"
    params:
        spec=get_cohort_spec,
    script:
        "../scripts/plot_alliance.py"


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
        ppc=rules.summarise.output.ppc,
        forest=rules.plot_forest.output.figure,
        densities=rules.plot_densities.output.figure,
        participant_raw=get_participant_raw,
        participant_figures=get_participant_figures,
        frequentist=expand(rules.frequentist.output.table, cohort=COHORTS),
        missingness=expand(rules.participant_data.output.missingness, cohort=COHORTS),
        participant_cleaning=expand(
            rules.participant_data.output.cleaning_log, cohort=COHORTS
        ),
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
