rule score_fasta:
    """Bits per base of every record and a per-base log-likelihood bedGraph track."""
    input:
        model=model_dir,
        fasta=score_fasta,
    output:
        tsv="score/{model}/{name}.tsv",
        track="score/{model}/{name}.bedGraph",
    log:
        "logs/score_fasta/{model}/{name}.log",
    params:
        device=config["device"],
        cli=cli("genomamba-score"),
    wildcard_constraints:
        model="|".join(MODELS),
    conda:
        "../envs/genomamba.yaml"
    shell:
        "{params.cli} fasta {input.model:q} {input.fasta:q} -o {output.tsv:q} --tracks {output.track:q}"
        " --device {params.device:q} -q > {log:q} 2>&1"


rule score_vcf:
    """Zero-shot variant-effect scores (GM_LLR, GM_DELTA) as INFO fields of a bgzipped VCF."""
    input:
        model=model_dir,
        reference=lambda wildcards: repo_path(config["variants"]["reference"]),
        vcf=lambda wildcards: repo_path(config["variants"]["vcf"]),
    output:
        "score/{model}/variants.vcf.gz",
    log:
        "logs/score_vcf/{model}.log",
    params:
        device=config["device"],
        strands=config["score"]["strands"],
        cli=cli("genomamba-score"),
    wildcard_constraints:
        model="|".join(MODELS),
    conda:
        "../envs/genomamba.yaml"
    shell:
        "{params.cli} vcf {input.model:q} {input.reference:q} {input.vcf:q} -o {output:q}"
        " --strands {params.strands:q} --device {params.device:q} > {log:q} 2>&1"
