rule pretrain:
    """Pretrain a character-level Mamba with genomamba-train (Hydra) and export its model directory."""
    input:
        fastas=train_fastas(),
    output:
        model=directory("pretrain/model"),
        metrics="pretrain/metrics.json",
    log:
        "logs/pretrain.log",
    params:
        overrides=train_overrides(),
        cli=cli("genomamba-train"),
    threads: workflow.cores
    conda:
        "../envs/genomamba.yaml"
    shell:
        "{params.cli} {params.overrides:q} hydra.run.dir=pretrain export_dir={output.model:q}"
        " > {log:q} 2>&1"
