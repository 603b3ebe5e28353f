"""`make demo` helpers: split the demo genome as training did, and end with a short summary.

    python workflows/scripts/demo_summary.py split GENOME.fa.gz OUT_DIR [--valid-fraction 0.05]
        -> OUT_DIR/train.fa (what the model trained on), OUT_DIR/valid.fa (the held-back tail)
    python workflows/scripts/demo_summary.py summary RUN_DIR
        -> bits per base on valid.fa: uniform (2.0), the Markov baseline, the model; the model's
           bits per base on phage lambda (RUN_DIR/lambda_scores.tsv, when there); next commands,
           spelled with the venv's bin/ folder (that of this Python, `make demo`'s .venv/bin):
           the venv is not active after `make demo`, so a bare `genomamba-score` is not on PATH;
           their outputs go into RUN_DIR (git-ignored outputs/), not the working directory
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from genomamba.data.windows import make_splits
from genomamba.io.fasta import GenomeSet


def split(genome: str, out: Path, valid_fraction: float) -> None:
    """Write the training and held-back intervals (the GenomeDataModule rule) as FASTA files."""
    g = GenomeSet([genome])
    train, valid = make_splits(g.lengths, valid_fraction=valid_fraction)
    out.mkdir(parents=True, exist_ok=True)
    for name, intervals in (("train", train), ("valid", valid)):
        with open(out / f"{name}.fa", "w") as f:
            for iv in intervals:
                seq = g.fetch(iv.chrom, iv.start, iv.end)
                f.write(f">{iv.chrom}:{iv.start}-{iv.end}\n")
                f.writelines(seq[i:i + 80] + "\n" for i in range(0, len(seq), 80))


def bits_per_base(tsv: Path) -> float:
    """Bits per scored base over all records of a `genomamba-score fasta` table."""
    with open(tsv) as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t") if int(r["scored_bases"])]
    bases = sum(int(r["scored_bases"]) for r in rows)
    return sum(float(r["bits_per_base"]) * int(r["scored_bases"]) for r in rows) / max(bases, 1)


def venv_command(name: str) -> str:
    """`name` as the next commands should spell it: the script beside this Python (the venv's bin/,
    relative to the working directory when under it, e.g. `.venv/bin/genomamba-score`), else `name`."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        return name
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return str(path) if rel.startswith("..") else rel


def summary(run: Path) -> str:
    model, markov = bits_per_base(run / "valid_model.tsv"), bits_per_base(run / "valid_markov.tsv")
    val = json.loads((run / "metrics.json").read_text()).get("val/bpc", float("nan"))
    lam = run / "lambda_scores.tsv"
    lambda_lines = [
        f"== the model on phage lambda (not in its training): {bits_per_base(lam):.3f} bits per base",
        f"   per record: {lam}; per base: {run / 'lambda_ll.bedGraph'}",
    ] if lam.exists() else []
    score = venv_command("genomamba-score")
    jupyter = venv_command("jupyter-lab")
    notebook = (f"   {jupyter} notebooks/01_quickstart.ipynb" if jupyter != "jupyter-lab" else
                f"   {venv_command('pip')} install -e '.[notebooks]' && {venv_command('jupyter')} lab "
                "notebooks/01_quickstart.ipynb")
    return "\n".join([
        "== genomamba demo: bits per base on the held-back 5% of E. coli (lower is better)",
        "   uniform guess            2.000",
        f"   Markov baseline          {markov:.3f}   (fitted on the training part in this run)",
        f"   Mamba model              {model:.3f}   (val/bpc during training: {val:.3f})",
        f"   model directory: {run / 'model'}",
        *lambda_lines,
        "== next:",
        f"   {score} fasta {run}/model data/lambda_phage.fa.gz -o {run}/scores.tsv --tracks {run}/ll.bedGraph",
        f"   {score} vcf {run}/model data/ecoli_mg1655.fa.gz data/ecoli_consequences_200kb.vcf.gz "
        f"-o {run}/scored.vcf.gz",
        notebook,
    ])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("split")
    s.add_argument("genome")
    s.add_argument("out", type=Path)
    s.add_argument("--valid-fraction", type=float, default=0.05)
    sub.add_parser("summary").add_argument("run", type=Path)
    a = p.parse_args()
    if a.cmd == "split":
        split(a.genome, a.out, a.valid_fraction)
    else:
        print(summary(a.run))


if __name__ == "__main__":
    main()
