"""genomamba_kernels.transpose: the tiled transpose between the scan's L-contiguous and channel-last
layouts, against torch's own transpose (odd sizes that no tile divides, a strided batch, bf16)."""

from __future__ import annotations

import pytest
import torch

from genomamba_kernels.transpose import to_channel_last, to_l_contiguous, transpose_last2


@pytest.mark.parametrize("shape,dtype", [((2, 5, 67), torch.float32), ((1, 130, 3), torch.bfloat16),
                                         ((3, 64, 64), torch.float16), ((1, 1, 129), torch.float32)],
                         ids=["2x5x67-fp32", "1x130x3-bf16", "3x64x64-fp16", "1x1x129-fp32"])
def test_transpose_last2_matches_torch(shape, dtype, device):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape))).to(device, dtype)
    y = transpose_last2(x)
    assert y.is_contiguous() and y.shape == (shape[0], shape[2], shape[1]) and y.dtype == dtype
    assert torch.equal(y, x.transpose(1, 2))


def test_transpose_last2_reads_a_strided_batch_and_rows(device):
    """A slice of a larger tensor (batch and row strides of its parent, unit last stride)."""
    big = torch.randn(3, 9, 70, generator=torch.Generator().manual_seed(1)).to(device)
    x = big[::2, 1:8]
    assert torch.equal(transpose_last2(x), x.transpose(1, 2))


def test_layout_round_trip(device):
    u = torch.randn(2, 7, 45, generator=torch.Generator().manual_seed(2)).to(device)
    cl = to_channel_last(u)
    assert cl.shape == u.shape and cl.stride() == (45 * 7, 1, 7) and torch.equal(cl, u)
    back = to_l_contiguous(cl)
    assert back.is_contiguous() and torch.equal(back, u)


def test_transpose_last2_rejects_a_strided_last_dim(device):
    with pytest.raises(ValueError, match="unit last stride"):
        transpose_last2(torch.zeros(2, 4, 6, device=device).transpose(1, 2))
