rule evaluate:
    """AUROC/AUPRC of the variant scores against the labels in the VCF (metrics.json + roc.png)."""
    input:
        "score/{model}/variants.vcf.gz",
    output:
        metrics="evaluate/{model}/metrics.json",
        roc="evaluate/{model}/roc.png",
    log:
        "logs/evaluate/{model}.log",
    params:
        label=lambda wildcards: config["variants"]["label"],
        positive=lambda wildcards: config["variants"]["positive"],
        negative=lambda wildcards: config["variants"]["negative"],
        outdir=lambda wildcards, output: Path(output.metrics).parent,
        cli=cli("genomamba-score"),
    wildcard_constraints:
        model="|".join(MODELS),
    conda:
        "../envs/genomamba.yaml"
    shell:
        "{params.cli} evaluate {input:q} --label {params.label:q} --positive {params.positive:q}"
        " --negative {params.negative:q} -o {params.outdir:q} > {log:q} 2>&1"
