"""Write the workflow's markdown summary from the JSON/TSV outputs of the other rules.

Run by Snakemake's `script:` directive (the `snakemake` object gives inputs, outputs, params, log);
`write_report` is a plain function so that it can be called on its own.
"""

import csv
import json
import os
import tempfile
from pathlib import Path


def fasta_bpc(tsv: str) -> tuple[float, int]:
    """Bits per base over all records of a `genomamba-score fasta` TSV, weighted by scored bases."""
    bits, bases = 0.0, 0
    with open(tsv, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            n = int(row["scored_bases"])
            if n:
                bits += float(row["bits_per_base"]) * n
                bases += n
    return (bits / bases if bases else float("nan")), bases


def write_report(
    output: str,
    experiment: str,
    train_metrics: str,
    fasta_scores: list[str],
    evaluations: list[str] = (),
) -> None:
    metrics = json.loads(Path(train_metrics).read_text())
    lines = [
        "# genomamba workflow report",
        "",
        f"Pretraining (`experiment={experiment}`): validation bpc **{metrics['val/bpc']:.4f}**"
        f" (train bpc {metrics.get('train/bpc', float('nan')):.4f}).",
        "",
        "## Bits per base of the scored FASTA files",
        "",
        "| model | FASTA | bits per base | scored bases |",
        "| --- | --- | --- | --- |",
    ]
    for tsv in fasta_scores:
        bpc, bases = fasta_bpc(tsv)
        lines.append(f"| {Path(tsv).parent.name} | {Path(tsv).stem} | {bpc:.4f} | {bases} |")
    if evaluations:
        lines += [
            "",
            "## Variant effects (lower score = damaging)",
            "",
            "| model | class | score | AUROC | AUPRC | positives | negatives |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for path in evaluations:
            result = json.loads(Path(path).read_text())
            model = Path(path).parent.name
            for cls, scores in result["classes"].items():
                for score, m in scores.items():
                    lines.append(
                        f"| {model} | {cls} | {score} | {m['auroc']:.4f} | {m['auprc']:.4f}"
                        f" | {m['n_pos']} | {m['n_neg']} |"
                    )
    else:
        lines += ["", "No labelled variants configured (`variants: null`): no AUROC."]
    # atomic: a half-written report never looks finished
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__" and "snakemake" in globals():
    smk = globals()["snakemake"]
    with open(smk.log[0], "w") as log:
        write_report(
            smk.output[0],
            smk.params.experiment,
            smk.input.train_metrics,
            list(smk.input.fasta_scores),
            list(smk.input.get("evaluations", [])),
        )
        log.write(f"wrote {smk.output[0]}\n")
