rule prepare_markov:
    """Order-k Markov baseline fitted on the training FASTAs (a model directory like any other)."""
    input:
        fastas=train_fastas(),
    output:
        directory("prepare/markov"),
    log:
        "logs/prepare_markov.log",
    params:
        k=config["baseline"]["k"],
        cli=cli("genomamba-score"),
    conda:
        "../envs/genomamba.yaml"
    shell:
        "{params.cli} fit-markov -k {params.k:q} -q -o {output:q} {input.fastas:q} > {log:q} 2>&1"
