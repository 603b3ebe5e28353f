"""Packed training batches: the loss has no target across a record boundary, so a packed row's
loss is the token-weighted mean of its records' own losses."""

import torch

from genomamba.lit.pretrain import next_base_loss
from genomamba.models import CharMambaLM, MambaConfig


def test_packed_loss_equals_per_record_losses():
    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=16, n_layer=2, scan_backend="torch")).eval()
    a, b = torch.randint(0, 4, (1, 37)), torch.randint(0, 4, (1, 21))
    row = torch.cat([a, b], dim=1)
    seq_idx = torch.cat([torch.zeros(1, 37), torch.ones(1, 21)], dim=1).int()
    packed, count = next_base_loss(model(row, seq_idx=seq_idx), row, seq_idx=seq_idx)
    la, ca = next_base_loss(model(a), a)
    lb, cb = next_base_loss(model(b), b)
    assert int(count) == 36 + 20  # the first base of b is no target of a
    torch.testing.assert_close(packed, (la * ca + lb * cb) / (ca + cb), rtol=1e-5, atol=1e-6)
    unmasked, _ = next_base_loss(model(row, seq_idx=seq_idx), row)
    assert not torch.allclose(unmasked, packed)  # the boundary target would count without seq_idx
