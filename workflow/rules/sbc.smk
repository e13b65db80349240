# Simulation-based calibration: every model under the first prior set it is fitted with, in chunks of
# replicates so a cluster can spread them; each chunk job compiles its model once and refits every
# replicate via pm.Data.


rule sbc_chunk:
    input:
        data=get_sbc_data,
    output:
        ranks="results/sbc/{model}/chunk{chunk}.csv",
    log:
        "logs/sbc/{model}/chunk{chunk}.log",
    benchmark:
        "results/benchmarks/sbc_chunk/{model}/chunk{chunk}.tsv"
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
        prior=get_sbc_prior,
        published=get_sbc_published,
        residual=config["participant_residual"],
        settings=config["sbc_settings"],
        gradient=config["sampler"]["gradient"],
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
    benchmark:
        "results/benchmarks/sbc_summary/{model}.tsv"
    wildcard_constraints:
        model=one_of(SBC_MODELS),
    conda:
        "../../environment.yml"
    params:
        band_prob=0.99,
        ci_prob=0.99,
        synthetic=is_synthetic,
    script:
        "../scripts/sbc_summary.py"
