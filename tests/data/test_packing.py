"""Packed rows and whole-record samples: packed training rows are full, made of genome pieces told
apart by seq_idx and deterministic; packed validation rows hold every window once, in order;
whole records are unpadded and collate with the padding marked; the datamodule puts seq_idx in
the batch; and the boundary-masked next-base loss of a packed row is the per-record losses' sum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genomamba.alphabet import PAD, encode, reverse_complement
from genomamba.data import GenomeWindowDataset, RandomWindows, make_splits, tile_windows
from genomamba.data.datamodule import GenomeDataModule
from genomamba.data.packing import collate_padded, same_sequence_targets
from genomamba.errors import ConfigError
from genomamba.io.fasta import GenomeSet
from genomamba.models import CharMambaLM, MambaConfig

LENGTHS = [37, 5, 120, 64, 2, 90, 300, 11, 48, 150]


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    rng = np.random.default_rng(0)
    seqs = {f"rec{i}": "".join(rng.choice(list("ACGT"), n)) for i, n in enumerate(LENGTHS)}
    path = tmp_path_factory.mktemp("fa") / "short.fa"
    path.write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    return path, seqs


def _pieces(item):
    tokens, seq = item["tokens"].numpy(), item["seq_idx"].numpy()
    return [tokens[seq == k] for k in np.unique(seq)]


def _in_genome(piece, seqs):
    fwd, rc = piece.tobytes(), reverse_complement(piece).tobytes()
    return any(fwd in encode(s).tobytes() or rc in encode(s).tobytes() for s in seqs.values())


def test_packed_training_rows_are_full_pieces_of_the_genome(records):
    path, seqs = records
    genome = GenomeSet([path])
    iv, _ = make_splits(genome.lengths)
    sampler = RandomWindows(iv, 128, seed=1, rc_prob=0.5, by_length=True)
    ds = GenomeWindowDataset(genome, 128, sampler=sampler, pack=True)
    counts = []
    for i in range(20):
        item = ds[i]
        assert item["tokens"].shape == (128,) and not (item["tokens"] == PAD).any()
        seq = item["seq_idx"]
        assert seq[0] == 0 and ((seq[1:] - seq[:-1]) >= 0).all() and ((seq[1:] - seq[:-1]) <= 1).all()
        pieces = _pieces(item)
        assert all(_in_genome(p, seqs) for p in pieces), f"row {i}: a piece is not in the genome"
        assert all(len(p) in LENGTHS or len(p) == 128 for p in pieces[:-1]), "only the last piece is cut"
        assert torch.equal(ds[i]["tokens"], item["tokens"])  # a pure function of (seed, i)
        counts.append(len(pieces))
    assert max(counts) >= 2


def test_packed_validation_rows_hold_every_window_once_in_order(records):
    path, seqs = records
    genome = GenomeSet([path])
    _, valid = make_splits(genome.lengths, valid_records=list(seqs))
    windows = tile_windows(valid, 100)
    ds = GenomeWindowDataset(genome, 100, windows=windows, pack=True)
    got = [p for i in range(len(ds)) for p in _pieces(ds[i])]
    want = [encode(seqs[w.chrom][w.start:w.end]) for w in windows]
    # each row's padded tail is its last seq_idx: drop those pieces
    got = [p for p in got if not (p == PAD).all()]
    assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    assert len(ds) < len(windows)


def test_whole_records_are_unpadded_and_collate_with_the_padding_marked(records):
    path, seqs = records
    genome = GenomeSet([path])
    iv, _ = make_splits(genome.lengths)
    ds = GenomeWindowDataset(genome, None, sampler=RandomWindows(iv, None, seed=0, rc_prob=0.5), pad=False)
    items = [ds[i] for i in range(6)]
    for it in items:
        assert len(it["tokens"]) in LENGTHS and _in_genome(it["tokens"].numpy(), seqs)
    capped = GenomeWindowDataset(genome, 64, sampler=RandomWindows(iv, 64, seed=0, by_length=True), pad=False)
    assert all(len(capped[i]["tokens"]) <= 64 for i in range(10))
    batch = collate_padded(items)
    for i, it in enumerate(items):
        n = len(it["tokens"])
        assert torch.equal(batch["tokens"][i, :n], it["tokens"]) and (batch["tokens"][i, n:] == PAD).all()
        assert (batch["seq_idx"][i, :n] == 0).all() and (batch["seq_idx"][i, n:] == 1).all()


def test_datamodule_batches_carry_seq_idx(records):
    path, _ = records
    dm = GenomeDataModule([str(path)], window=96, batch_size=3, valid_fraction=0.2, samples_per_epoch=6, pack=True)
    batch = next(iter(dm.train_dataloader()))
    assert batch["tokens"].shape == batch["seq_idx"].shape == (3, 96)
    assert next(iter(dm.val_dataloader()))["seq_idx"].shape[1] == 96
    whole = GenomeDataModule([str(path)], window=None, batch_size=2, valid_fraction=0.2, samples_per_epoch=4,
                             whole_records=True)
    batch = next(iter(whole.train_dataloader()))
    assert batch["tokens"].shape == batch["seq_idx"].shape and batch["tokens"].shape[1] <= max(LENGTHS)
    with pytest.raises(ConfigError, match="data.pack needs data.window"):
        GenomeDataModule([str(path)], window=None, whole_records=True, pack=True)
    with pytest.raises(ConfigError, match="whole_records"):
        GenomeDataModule([str(path)], window=None)


def test_boundary_masked_loss_of_a_packed_row_is_the_sum_over_records():
    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=16, n_layer=1, d_state=4, scan_backend="torch"))
    g = torch.Generator().manual_seed(0)
    seqs = [torch.randint(0, 4, (n,), generator=g) for n in (9, 1, 14)]
    tokens = torch.cat(seqs)[None]
    seq_idx = torch.cat([torch.full((len(s),), i) for i, s in enumerate(seqs)])[None]
    logits = model(tokens, seq_idx=seq_idx)
    nll = F.cross_entropy(logits[0, :-1], tokens[0, 1:], reduction="none")
    packed = (nll * same_sequence_targets(seq_idx)[0]).sum()
    alone = sum(F.cross_entropy(model(s[None])[0, :-1], s[1:], reduction="sum") for s in seqs if len(s) > 1)
    torch.testing.assert_close(packed, alone, rtol=1e-5, atol=1e-5)
    assert same_sequence_targets(seq_idx).sum() == sum(len(s) - 1 for s in seqs)
