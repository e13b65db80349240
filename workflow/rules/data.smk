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
    conda:
        "../../environment.yml"
    script:
        "../scripts/validate_published.py"


rule audit_published:
    input:
        clean=rules.validate_published.output.clean,
    output:
        audit="results/tables/audit.csv",
    log:
        "logs/data/audit_published.log",
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
        table="results/tables/frequentist/{cohort}.csv",
    log:
        "logs/data/frequentist.{cohort}.log",
    conda:
        "../../environment.yml"
    params:
        spec=get_cohort_spec,
    script:
        "../scripts/frequentist.py"
