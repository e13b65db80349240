# Simulation-based calibration: every model under the first prior set, in chunks of replicates so a
# cluster can spread them; each chunk job compiles its model once and refits every replicate via pm.Data.

SBC_MODELS = ["published"] + list(PARTICIPANT_MODELS)
SBC_PRIOR = PRIOR_SETS[0]


def sbc_replicates():
    return config["sbc_settings"]["replicates"][config["sbc"]]


def get_sbc_chunks(wildcards):
    n_chunks = -(-sbc_replicates() // config["sbc_settings"]["chunk_size"])
    return [f"results/sbc/{wildcards.model}/chunk{c}.csv" for c in range(n_chunks)]


def get_sbc_data(wildcards):
    if wildcards.model == "published":
        return (
            f"results/data/published/observations.{config['published']['n_source']}.csv"
        )
    return get_participant_clean(wildcards)


def get_sbc_info(wildcards):
    if wildcards.model == "published":
        return {"kind": "published", "cohort": None, "outcome": None}
    return PARTICIPANT_MODELS[wildcards.model]


def get_sbc_spec(wildcards):
    if wildcards.model == "published":
        return {}
    return get_model_cohort_spec(wildcards)


rule sbc_chunk:
    input:
        data=get_sbc_data,
    output:
        ranks="results/sbc/{model}/chunk{chunk}.csv",
    log:
        "logs/sbc/{model}/chunk{chunk}.log",
    wildcard_constraints:
        model=one_of(SBC_MODELS),
        chunk=r"\d+",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        info=get_sbc_info,
        spec=get_sbc_spec,
        prior=config["priors"][SBC_PRIOR],
        published=lambda w: (
            {k: config["published"][k] for k in ("grouping", "likelihood")}
            if w.model == "published"
            else {}
        ),
        residual=config["participant_residual"],
        settings=config["sbc_settings"],
        replicates=sbc_replicates(),
        seed=config["seed"],
    script:
        "../scripts/sbc_chunk.py"


# Verdict per parameter. The ECDF band and the two coverage intervals are 99% here: with three checks per
# parameter and up to ten parameters per model, 95% would flag a calibrated model somewhere most of the time.
rule sbc_summary:
    input:
        chunks=get_sbc_chunks,
    output:
        summary="results/tables/sbc/{model}.csv",
        ranks="results/sbc/{model}/ranks.csv",
        figure="results/figures/{model}/sbc.png",
    log:
        "logs/sbc/{model}/summary.log",
    wildcard_constraints:
        model=one_of(SBC_MODELS),
    conda:
        "../../environment.yml"
    params:
        band_prob=0.99,
        ci_prob=0.99,
        synthetic=lambda w: w.model != "published" and is_synthetic(w),
    script:
        "../scripts/sbc_summary.py"
