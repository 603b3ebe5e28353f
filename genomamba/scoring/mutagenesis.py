"""Saturation mutagenesis: every possible SNV of a region scored zero-shot, as a DataFrame.

Each position of `CHROM:START-END` becomes one record with the three other bases as ALTs, scored
by `VariantScorer` exactly as `genomamba-score vcf` would score the same SNVs (same window, rules
and strands), so a position's window is run once and its three ALTs come from its state at the
base (`scoring.state_cache`). Positions whose reference base is not A/C/G/T (N, IUPAC codes) have
no SNVs and are left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence

import pandas as pd
import torch

from genomamba.device import resolve_device
from genomamba.errors import GenomambaError
from genomamba.io.fasta import FastaReader, preview_names
from genomamba.io.vcf import VariantRecord

__all__ = ["parse_region", "saturation_mutagenesis", "BASES"]

BASES = "ACGT"
_REGION = re.compile(r"^(?P<chrom>.+):(?P<start>[0-9,]+)-(?P<end>[0-9,]+)$")


def parse_region(region: str, lengths: dict[str, int]) -> tuple[str, int, int]:
    """`CHROM:START-END` (1-based, inclusive, commas allowed, as samtools) -> (chrom, start, end),
    0-based and end-exclusive.

    Raises:
        GenomambaError: a malformed string, START > END or START < 1, an unknown chrom, or a
            region past the end of the record (each in one line naming it).
    """
    m = _REGION.match(region.strip())
    if m is None:
        raise GenomambaError(f"region {region!r}: expected CHROM:START-END (1-based, inclusive), e.g. chr1:1001-2000")
    chrom, start, end = m["chrom"], int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))
    if start < 1 or start > end:
        raise GenomambaError(f"region {region!r}: START must be >= 1 and <= END")
    if chrom not in lengths:
        raise GenomambaError(f"region {region!r}: no record {chrom!r} in the FASTA (known: {preview_names(lengths)})")
    if end > lengths[chrom]:
        raise GenomambaError(f"region {region!r} runs past the end of {chrom} ({lengths[chrom]} bp)")
    return chrom, start - 1, end


def snv_records(chrom: str, start: int, seq: str) -> Iterator[VariantRecord]:
    """One record per A/C/G/T base of `seq` (which starts at 0-based `start`): the 3 other bases."""
    for i, base in enumerate(seq.upper()):
        if base in BASES:
            pos = start + i
            yield VariantRecord(chrom, pos, base, [b for b in BASES if b != base], "mutagenesis", pos + 1, [])


def saturation_mutagenesis(
    model, reference, region: str, *, window: int | None = None, strands: str = "forward",
    rules: Sequence[str] | None = None, batch_size: int = 16, device: str | torch.device | None = "auto",
    log_base: str = "e", progress: bool = True,
) -> pd.DataFrame:
    """Score all 3 SNVs at every position of `region` (`CHROM:START-END`, 1-based inclusive).

    Args:
        model: a model directory or a loaded causal model.
        reference: a FASTA path or an open `FastaReader`.
        window, strands, rules, batch_size, log_base: as `genomamba-score vcf` (`VariantScorer`).
        progress: report the region's positions done (`genomamba.progress`: a bar on a terminal,
            else a line a minute; False: nothing).

    Returns:
        One row per SNV: chrom, pos (1-based), ref, alt, then one column per rule (GM_LLR, GM_DELTA).

    Raises:
        GenomambaError: a bad region (see `parse_region`), a bidirectional model.
    """
    from genomamba.progress import stage
    from genomamba.scoring.runs import as_model
    from genomamba.scoring.zero_shot import VariantScorer

    genome = reference if hasattr(reference, "fetch") else FastaReader(reference, progress=progress)
    chrom, start, end = parse_region(region, genome.lengths)
    dev = resolve_device(device)
    scorer = VariantScorer(as_model(model, dev), genome, window=window, strands=strands, batch_size=batch_size,
                           device=dev, rules=rules, log_base=log_base, unknown_contig="error", state_cache=True)
    rows, done = [], start
    with stage("mutagenesis", end - start, "bp", enabled=progress) as bar:
        for rec in scorer.score(snv_records(chrom, start, genome.fetch(chrom, start, end))):
            values = {name: rec.info[name].split(",") for name in scorer.rules}
            for j, alt in enumerate(rec.alts):
                rows.append([chrom, rec.start + 1, rec.ref, alt, *(_float(values[n][j]) for n in scorer.rules)])
            bar(rec.end - done)
            done = rec.end
        bar(end - done)
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", *scorer.rules])


def _float(value: str) -> float:
    return math.nan if value == "." else float(value)
