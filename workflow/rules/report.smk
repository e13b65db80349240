# Report stage: tables joined over fits, figures, and the one self-contained HTML report.


rule summarise:
    input:
        unpack(get_all_fit_tables),
        diagnostics=get_all_diagnostics,
    output:
        posterior_summary=report(
            "results/tables/posterior_summary.csv",
            caption="../report/captions/posterior_summary.rst",
            category="Track A: published statistics",
        ),
        threshold_probabilities=report(
            "results/tables/threshold_probabilities.csv",
            caption="../report/captions/threshold_probabilities.rst",
            category="Track A: published statistics",
        ),
        diagnostics=report(
            "results/tables/diagnostics.csv",
            caption="../report/captions/diagnostics.rst",
            category="Diagnostics",
        ),
        contrasts=report(
            "results/tables/phase_contrasts.csv",
            caption="../report/captions/phase_contrasts.rst",
            category="Track A: published statistics",
        ),
        ppc=report(
            "results/tables/ppc_published.csv",
            caption="../report/captions/ppc_published.rst",
            category="Track A: published statistics",
        ),
    log:
        "logs/report/summarise.log",
    benchmark:
        "results/benchmarks/summarise.tsv"
    conda:
        "../../environment.yml"
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
        figure=report(
            "results/figures/published/forest.png",
            caption="../report/captions/forest.rst",
            category="Track A: published statistics",
        ),
    log:
        "logs/report/plot_forest.log",
    benchmark:
        "results/benchmarks/plot_forest.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/plot_forest.py"


rule plot_densities:
    input:
        idata=get_main_idata,
    output:
        figure=report(
            "results/figures/published/rho_densities.png",
            caption="../report/captions/rho_densities.rst",
            category="Track A: published statistics",
        ),
    log:
        "logs/report/plot_densities.log",
    benchmark:
        "results/benchmarks/plot_densities.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/plot_densities.py"


rule plot_participant:
    input:
        idata=get_model_idata_all_priors,
    output:
        slopes=report(
            "results/figures/{model}/slopes.png",
            caption="../report/captions/participant_slopes.rst",
            category="Track B: participant models",
            subcategory="{model}",
        ),
        ppc=report(
            "results/figures/{model}/ppc.png",
            caption="../report/captions/participant_ppc.rst",
            category="Track B: participant models",
            subcategory="{model}",
        ),
        ppc_table="results/tables/ppc/{model}.csv",
    log:
        "logs/report/plot_participant.{model}.log",
    benchmark:
        "results/benchmarks/plot_participant/{model}.tsv"
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
        figure=report(
            "results/figures/{cohort}_alliance/trajectory.png",
            caption="../report/captions/alliance_trajectory.rst",
            category="Track B: participant models",
            subcategory="{cohort}",
        ),
        ppc=report(
            "results/figures/{cohort}_alliance/ppc.png",
            caption="../report/captions/participant_ppc.rst",
            category="Track B: participant models",
            subcategory="{cohort}",
        ),
        ppc_table="results/tables/ppc/{cohort}_alliance.csv",
    log:
        "logs/report/plot_alliance.{cohort}.log",
    benchmark:
        "results/benchmarks/plot_alliance/{cohort}.tsv"
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
        participant_ppc=get_participant_ppc_tables,
        frequentist=expand(rules.frequentist.output.table, cohort=COHORTS),
        missingness=expand(rules.participant_data.output.missingness, cohort=COHORTS),
        participant_cleaning=expand(
            rules.participant_data.output.cleaning_log, cohort=COHORTS
        ),
        provenance="results/provenance.json",
        dag="results/figures/audit/dag.png",
        dag_graph="results/audit/dag.json",
        template=workflow.source_path("../report/report.html.j2"),
        provenance_template=workflow.source_path("../report/provenance.html.j2"),
        macros=workflow.source_path("../report/macros.html.j2"),
        workflow_template=workflow.source_path("../report/workflow_checks.html.j2"),
        workflow_tables=get_workflow_tables,
        workflow_figures=get_workflow_figures,
        sbc_tables=get_sbc_tables,
    output:
        html=report(
            "results/report.html",
            caption="../report/captions/report.rst",
            category="Report and provenance",
        ),
    log:
        "logs/report/report.log",
    conda:
        "../../environment.yml"
    params:
        config=config,
    script:
        "../scripts/report.py"
