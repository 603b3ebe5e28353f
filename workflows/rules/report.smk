rule report:
    """Markdown summary: validation bpc, bits per base of each scored FASTA, AUROC per score."""
    input:
        **report_inputs(),
    output:
        "report/report.md",
    log:
        "logs/report.log",
    params:
        experiment=config["train"]["experiment"],
    conda:
        "../envs/genomamba.yaml"
    script:
        "../scripts/report.py"
