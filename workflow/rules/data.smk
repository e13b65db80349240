# Data stage: validate and clean the published table, audit its (r, p, n), and turn every row into an
# observation of the sample r under each choice of n.


rule validate_published:
    input:
        table=config["data"]["published"],
    output:
        clean="results/data/published/clean.csv",
        cleaning_log="results/data/published/cleaning_log.csv",
    log:
        "logs/data/validate_published.log",
    benchmark:
        "results/benchmarks/validate_published.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/validate_published.py"


rule audit_published:
    input:
        clean=rules.validate_published.output.clean,
    output:
        audit=report(
            "results/tables/audit.csv",
            caption="../report/captions/audit.rst",
            category="Data and audit",
        ),
    log:
        "logs/data/audit_published.log",
    benchmark:
        "results/benchmarks/audit_published.tsv"
    conda:
        "../../environment.yml"
    script:
        "../scripts/audit_published.py"


rule observations:
    input:
        clean=rules.validate_published.output.clean,
        audit=rules.audit_published.output.audit,
    output:
        observations="results/data/published/observations.{n_source}.csv",
        dropped="results/data/published/dropped.{n_source}.csv",
    log:
        "logs/data/observations.{n_source}.log",
    benchmark:
        "results/benchmarks/observations/{n_source}.tsv"
    conda:
        "../../environment.yml"
    params:
        settings=get_evidence_settings,
    script:
        "../scripts/observations.py"


rule participant_data:
    input:
        table=get_cohort_input,
    output:
        clean="results/data/{cohort}/clean.csv",
        cleaning_log="results/data/{cohort}/cleaning_log.csv",
        missingness="results/data/{cohort}/missingness.csv",
    log:
        "logs/data/participant_data.{cohort}.log",
    benchmark:
        "results/benchmarks/participant_data/{cohort}.tsv"
    conda:
        "../../environment.yml"
    params:
        spec=get_cohort_spec,
        seed=config["seed"],
    script:
        "../scripts/participant_data.py"


rule frequentist:
    input:
        clean=rules.participant_data.output.clean,
    output:
        table=report(
            "results/tables/frequentist/{cohort}.csv",
            caption="../report/captions/frequentist.rst",
            category="Track B: participant models",
            subcategory="{cohort}",
        ),
    log:
        "logs/data/frequentist.{cohort}.log",
    benchmark:
        "results/benchmarks/frequentist/{cohort}.tsv"
    conda:
        "../../environment.yml"
    params:
        spec=get_cohort_spec,
    script:
        "../scripts/frequentist.py"
