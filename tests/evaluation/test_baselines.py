"""One-hot sequence context of ref and alt: exact encoding on tiny.fa (SNV, deletion, contig ends)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from genomamba.data.labelled_variants import LabelledVariant
from genomamba.evaluation import context_onehot
from genomamba.io.fasta import GenomeSet

FA = Path(__file__).parents[1] / "fixtures" / "tiny.fa"  # chr1 starts TAAAAAAGCAAAGTTC, ends ...AGTCTCT


def _decode(rows: np.ndarray, k: int) -> tuple[str, str]:
    x = rows.reshape(2, 2 * k + 1, 4)
    assert set(np.unique(x)) <= {0.0, 1.0} and (x.sum(-1) <= 1).all()
    return tuple("".join("ACGT"[b.argmax()] if b.any() else "N" for b in hap) for hap in x)


@pytest.mark.parametrize(
    "start, ref, alt, k, expected",
    [
        (8, "C", "T", 2, ("AGCAA", "AGTAA")),  # SNV: bases 6..10 of chr1
        (1, "A", "G", 3, ("NNTAAAA", "NNTGAAA")),  # near the start: padded with N (all zeros)
        (7, "GC", "G", 2, ("AAGCA", "AAGAA")),  # deletion: the alt's right flank follows the deleted base
        (198, "C", "A", 2, ("CTCTN", "CTATN")),  # near the end of chr1 (200 bp)
        (8, "c", "t", 0, ("C", "T")),
    ],
    ids=["snv", "start", "deletion", "end", "k0"],
)
def test_context_onehot_by_hand(start, ref, alt, k, expected):
    with GenomeSet([FA]) as genome:
        x = context_onehot(genome, [LabelledVariant("chr1", start, ref, alt, 0, "0")], k)
    assert x.shape == (1, 8 * (2 * k + 1)) and x.dtype == np.float32
    assert _decode(x[0], k) == expected
