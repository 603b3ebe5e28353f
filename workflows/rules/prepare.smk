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
    conda:
        "../envs/genomamba.yaml"
    shell:
        "genomamba-score fit-markov -k {params.k} -q -o {output} {input.fastas:q} > {log} 2>&1"
