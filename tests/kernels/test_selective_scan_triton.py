"""genomamba_kernels.selective_scan_triton against the spec `selective_scan_ref`: outputs, final
state and every gradient, (y*dy).sum() + (h*dh).sum() backpropagated through both paths."""

from __future__ import annotations

import pytest
import torch

from genomamba.ops.selective_scan_ref import selective_scan_ref
from genomamba_kernels import selective_scan_triton

from .helpers import assert_close

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def channel_last(x: dict, kw: dict) -> None:
    """The mixer's layouts, in place: u, delta `[B, L, D]` transposed; z the second half of a `[B, L, 2D]`
    tensor; B, C slices of one `[B, L, R + 2N]` tensor (x_proj's output), all as `[B, D, L]` views."""
    Bsz, Dm, L = x["u"].shape
    N = x["B"].shape[-2]
    x["u"] = x["u"].transpose(1, 2).contiguous().transpose(1, 2)
    x["delta"] = x["delta"].transpose(1, 2).contiguous().transpose(1, 2)
    dbl = torch.cat([torch.randn_like(x["B"][:, :1]), x["B"], x["C"]], dim=1).transpose(1, 2).contiguous()
    x["B"], x["C"] = dbl[..., 1:1 + N].transpose(1, 2), dbl[..., 1 + N:].transpose(1, 2)
    if "z" in kw:
        xz = torch.cat([x["u"], kw["z"]], dim=1).transpose(1, 2).contiguous()  # (B, L, 2D)
        kw["z"] = xz[..., Dm:].transpose(1, 2)


def make_inputs(Bsz, Dm, N, L, dtype, device, groups=None, full=True, init=False, varlen=False, seed=0,
                layout="contiguous"):
    """Fresh random inputs (never zeros); fp32 A/D/delta_bias/initial_state as in Mamba."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g)  # noqa: E731
    bc = (Bsz, N, L) if groups is None else (Bsz, groups, N, L)
    x = dict(
        u=r(Bsz, Dm, L).to(dtype), delta=(0.5 * r(Bsz, Dm, L)).to(dtype),
        A=-(0.5 + torch.rand(Dm, N, generator=g)), B=r(*bc).to(dtype), C=r(*bc).to(dtype),
    )
    kw = {}
    if full:
        kw.update(D=r(Dm), z=r(Bsz, Dm, L).to(dtype), delta_bias=0.3 * r(Dm), delta_softplus=True)
    else:
        x["delta"] = (0.05 + 0.5 * torch.rand(Bsz, Dm, L, generator=g)).to(dtype)
    if init:
        kw["initial_state"] = r(Bsz, Dm, N)
    if varlen:
        cuts = sorted(torch.randperm(L - 2, generator=g)[:3].add(1).tolist())
        seq = torch.zeros(Bsz, L, dtype=torch.int32)
        for c in cuts:
            seq[:, c:] += 1
        seq[-1] = 0  # one unpacked row
        kw["seq_idx"] = seq
    x = {k: v.to(device) for k, v in x.items()}
    kw = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
    if layout == "channel_last":
        channel_last(x, kw)
    return x, kw


def run_case(Bsz, Dm, N, L, dtype, device, reverse=False, groups=None, full=True, init=False, varlen=False,
             chunk_size=None, seed=0, layout="contiguous"):
    x, kw = make_inputs(Bsz, Dm, N, L, dtype, device, groups, full, init, varlen, seed)
    leaves = {k: v.requires_grad_() for k, v in {**x, **kw}.items()
              if isinstance(v, torch.Tensor) and v.is_floating_point()}
    if layout == "channel_last":  # views of the leaves, so every gradient flows back through them
        x, kw = dict(x), dict(kw)
        channel_last(x, kw)
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    y, h = selective_scan_triton(*args, **kw, return_final_state=True, reverse=reverse, chunk_size=chunk_size)
    y_ref, h_ref = selective_scan_ref(*args, **kw, return_final_state=True, reverse=reverse)
    assert y.dtype == x["u"].dtype and h.dtype == torch.float32
    assert_close("y", y, y_ref, dtype)
    assert_close("final_state", h, h_ref, torch.float32 if dtype == torch.float32 else dtype)
    gen = torch.Generator().manual_seed(seed + 1)
    dy = torch.randn(y.shape, generator=gen).to(device, y.dtype)
    dh = torch.randn(h.shape, generator=gen).to(device)
    names = list(leaves)
    grads = torch.autograd.grad((y * dy).float().sum() + (h * dh).sum(), [leaves[k] for k in names])
    grads_ref = torch.autograd.grad((y_ref * dy).float().sum() + (h_ref * dh).sum(), [leaves[k] for k in names])
    for k, g, gr in zip(names, grads, grads_ref):
        assert g.dtype == leaves[k].dtype, f"d{k}: dtype {g.dtype} != {leaves[k].dtype}"
        assert_close(f"d{k}", g, gr, dtype)


# (id, Bsz, D, N, L, dtype, options); odd lengths are not multiples of the tile.
CASES = [
    ("B2-L37-D8-N4-fp32", 2, 8, 4, 37, "fp32", {}),
    ("B2-L37-D8-N4-bf16", 2, 8, 4, 37, "bf16", {}),
    ("B1-L29-D4-N4-fp16", 1, 4, 4, 29, "fp16", {}),
    ("B1-L40-D4-N4-fp32-plain", 1, 4, 4, 40, "fp32", {"full": False}),
    ("B2-L37-D8-N4-fp32-rev", 2, 8, 4, 37, "fp32", {"reverse": True}),
    ("B2-L53-D8-N4-fp32-varlen", 2, 8, 4, 53, "fp32", {"varlen": True}),
    ("B2-L37-D8-N4-fp32-G2", 2, 8, 4, 37, "fp32", {"groups": 2}),
    ("B2-L45-D8-N4-fp32-h0-chunk16", 2, 8, 4, 45, "fp32", {"init": True, "chunk_size": 16}),
    ("B1-L47-D6-N3-fp32-rev-varlen-h0-chunk16", 1, 6, 3, 47, "fp32",
     {"reverse": True, "varlen": True, "init": True, "chunk_size": 16}),
    ("B2-L33-D8-N4-bf16-rev-G4-h0-chunk16", 2, 8, 4, 33, "bf16",
     {"reverse": True, "groups": 4, "init": True, "chunk_size": 16}),
    ("B2-L37-D8-N4-fp32-channel-last", 2, 8, 4, 37, "fp32", {"layout": "channel_last"}),
    ("B2-L45-D8-N4-bf16-channel-last-rev-h0-chunk16", 2, 8, 4, 45, "bf16",
     {"layout": "channel_last", "reverse": True, "init": True, "chunk_size": 16}),
]


@pytest.mark.parametrize("Bsz,Dm,N,L,dt,opts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_selective_scan_triton_matches_ref(Bsz, Dm, N, L, dt, opts, device):
    run_case(Bsz, Dm, N, L, DTYPES[dt], device, **opts)


def test_fresh_inputs_each_call(device):
    """Two different random draws: the kernel computes the function, not a cached answer."""
    run_case(1, 4, 4, 21, torch.float32, device, seed=3)
    run_case(1, 4, 4, 21, torch.float32, device, seed=4, reverse=True)


def test_no_final_state_returns_tensor(device):
    x, kw = make_inputs(1, 4, 4, 19, torch.float32, device)
    y = selective_scan_triton(*(x[k] for k in ("u", "delta", "A", "B", "C")), **kw)
    assert isinstance(y, torch.Tensor) and y.shape == (1, 4, 19)


def test_final_state_and_state_grads_keep_the_api_layout(device):
    """The kernels hold states as [N, D]; what the API returns is a contiguous [B, D, N] final state (a
    `mamba_step` after a prefill needs its unit last stride) and [D, N] / [B, D, N] grads of A and h0."""
    x, kw = make_inputs(2, 8, 4, 37, torch.float32, device, init=True)
    leaves = [x["A"].requires_grad_(), kw["initial_state"].requires_grad_()]
    y, h = selective_scan_triton(*(x[k] for k in ("u", "delta", "A", "B", "C")), **kw, return_final_state=True)
    assert h.shape == (2, 8, 4) and h.is_contiguous()
    dA, dh0 = torch.autograd.grad(y.sum() + h.sum(), leaves)
    assert dA.shape == (8, 4) and dA.is_contiguous() and dh0.shape == (2, 8, 4) and dh0.is_contiguous()


@pytest.mark.parametrize("lcontig", ["copy", "inplace"])
def test_l_contiguous_callers_get_l_contiguous_results(lcontig, device, monkeypatch):
    """L-contiguous inputs (mamba-ssm's layout) are scanned on channel-last copies by default and
    in place under GENOMAMBA_SCAN_LCONTIG=inplace: either way matching the reference, and y and
    every gradient come back L-contiguous, as the caller's tensors were."""
    monkeypatch.setenv("GENOMAMBA_SCAN_LCONTIG", lcontig)
    run_case(2, 8, 4, 37, torch.bfloat16, device, reverse=True, init=True, chunk_size=16)
    x, kw = make_inputs(2, 8, 4, 37, torch.float32, device)
    leaves = [x[k].requires_grad_() for k in ("u", "delta", "B", "C")] + [kw["z"].requires_grad_()]
    y = selective_scan_triton(*(x[k] for k in ("u", "delta", "A", "B", "C")), **kw)
    assert y.is_contiguous()
    for g in torch.autograd.grad(y.sum(), leaves):
        assert g.is_contiguous(), g.stride()


GPU_CASES = [
    ("B2-L4099-D64-N16-bf16", 2, 64, 16, 4099, "bf16", {}),
    ("B2-L4099-D64-N16-fp32-h0", 2, 64, 16, 4099, "fp32", {"init": True}),
    ("B1-L8191-D32-N16-fp32-rev-varlen-chunk1000", 1, 32, 16, 8191, "fp32",
     {"reverse": True, "varlen": True, "chunk_size": 1000, "init": True}),
    ("B2-L3001-D48-N16-bf16-G3-chunk512", 2, 48, 16, 3001, "bf16", {"groups": 3, "chunk_size": 512}),
    ("B2-L4099-D64-N16-bf16-channel-last-h0", 2, 64, 16, 4099, "bf16", {"layout": "channel_last", "init": True}),
    ("B2-L4099-D64-N16-bf16-inplace-rev", 2, 64, 16, 4099, "bf16", {"reverse": True, "lcontig": "inplace"}),
    ("B2-L4099-D64-N16-bf16-copy-h0", 2, 64, 16, 4099, "bf16", {"init": True, "lcontig": "copy"}),
]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("Bsz,Dm,N,L,dt,opts", [c[1:] for c in GPU_CASES], ids=[c[0] for c in GPU_CASES])
def test_selective_scan_triton_gpu(Bsz, Dm, N, L, dt, opts, monkeypatch):
    opts = dict(opts)
    if "lcontig" in opts:
        monkeypatch.setenv("GENOMAMBA_SCAN_LCONTIG", opts.pop("lcontig"))
    run_case(Bsz, Dm, N, L, DTYPES[dt], torch.device("cuda"), **opts)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_backward_chunks_span_forward_chunks(reverse, device, monkeypatch):
    """B2-L61-D8-N4-fp32: 4 forward chunks, backward chunks of 2 (the GPU path for small grids)."""
    monkeypatch.setenv("GENOMAMBA_SCAN_BWD_MULT", "2")
    run_case(2, 8, 4, 61, torch.float32, device, reverse=reverse, init=True, varlen=True, chunk_size=16)


@pytest.mark.parametrize("ckpt_steps", [16, 48], ids=["one-tile", "three-tiles"])
def test_backward_checkpoint_spacings(ckpt_steps, device, monkeypatch):
    """B2-L61-D8-N4-fp32 with a state checkpoint every tile (no rescan scratch) or every three tiles
    (the interpreter's tiles are 16 steps; the GPU's default is 16-step checkpoints of 4-step tiles)."""
    monkeypatch.setenv("GENOMAMBA_SCAN_CKPT_STEPS", str(ckpt_steps))
    run_case(2, 8, 4, 61, torch.float32, device, reverse=ckpt_steps == 48, init=True, varlen=True, chunk_size=32)


@pytest.mark.parametrize("bwd,ckpt_pass", [("4x16x4x1", ""), ("8x8x1x4", "2x8x1"), ("4x32x1x2", "8x16x1")],
                         ids=["bwd-one-channel-a-lane", "bwd-four-a-lane-ckpt-pass-8-steps", "bwd-32-step-tiles"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_backward_tile_settings(bwd, ckpt_pass, reverse, device, monkeypatch):
    """B2-L61-D8-N4-fp32 under other backward tiles (GENOMAMBA_SCAN_BWD=BDxBLxWARPSxDI: DI channels a
    lane) and checkpoint-pass tiles (GENOMAMBA_SCAN_CKPT_PASS) than the interpreter's default."""
    monkeypatch.setenv("GENOMAMBA_SCAN_BWD", bwd)
    if ckpt_pass:
        monkeypatch.setenv("GENOMAMBA_SCAN_CKPT_PASS", ckpt_pass)
    run_case(2, 8, 4, 61, torch.float32, device, reverse=reverse, init=True, varlen=True, chunk_size=32)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("bwd,ckpt_pass", [("16x4x1x1", "16x4x1"), ("32x1x1x4", "8x4x1"), ("16x2x1x2", "8x2x1"),
                                           ("32x2x1x4", "4x8x1")])
def test_backward_tile_settings_gpu(bwd, ckpt_pass, monkeypatch):
    """B2-L4099-D64-N16-bf16, channel-last, reverse, seq_idx: the backward tile candidates on the GPU."""
    monkeypatch.setenv("GENOMAMBA_SCAN_BWD", bwd)
    monkeypatch.setenv("GENOMAMBA_SCAN_CKPT_PASS", ckpt_pass)
    run_case(2, 64, 16, 4099, torch.bfloat16, torch.device("cuda"), layout="channel_last", reverse=True, varlen=True,
             init=True)


def test_reverse_backward_chunks_span_forward_chunks_with_a_partial_last(device, monkeypatch):
    """B1-L97-D8-N4-fp32, reverse: 4 forward chunks, backward chunks of 3 (the last spans one): each
    backward chunk starts, in scan order, from the state entering its last forward chunk."""
    monkeypatch.setenv("GENOMAMBA_SCAN_BWD_MULT", "3")
    run_case(1, 8, 4, 97, torch.float32, device, reverse=True, init=True, chunk_size=16)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_backward_chunks_span_forward_chunks_gpu(reverse, monkeypatch):
    """B1-L8191-D32-N16-fp32 in 9 forward chunks, backward chunks of 4 (the last spans one)."""
    monkeypatch.setenv("GENOMAMBA_SCAN_BWD_MULT", "4")
    run_case(1, 32, 16, 8191, torch.float32, torch.device("cuda"), reverse=reverse, varlen=True, chunk_size=1000,
             init=True)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("split,chunk", [(2, 32), (3, 48)], ids=["halves", "thirds"])
def test_pass1_on_parts_of_chunks(reverse, split, chunk, device, monkeypatch):
    """B2-L97-D8-N4-fp32 in chunks of 32 or 48 steps (the last one step long), forward pass 1 on halves or thirds
    of each (GENOMAMBA_SCAN_PASS1_SPLIT; the interpreter's tiles are 16 steps: parts past L scan nothing),
    with seq_idx resets and an initial state."""
    from genomamba_kernels import scan_plan as sp

    monkeypatch.setenv("GENOMAMBA_SCAN_PASS1_SPLIT", str(split))
    assert sp._Plan(2, 8, 4, 97, 1, torch.device(device), chunk).pass1_split == split
    run_case(2, 8, 4, 97, torch.float32, device, reverse=reverse, init=True, varlen=True, chunk_size=chunk)


@pytest.mark.parametrize("case", ["fp32-rev-varlen-h0", "bf16-channel-last"])
def test_unmasked_whole_tiles(case, device, monkeypatch):
    """GENOMAMBA_SCAN_UNMASKED=1: whole tiles (the backward: whole checkpoint groups) of whole d- and N-blocks load
    with no masks, the last partial tile with them; against the reference at L=97 (6 whole 16-step tiles and one of
    1) in 32-step chunks, outputs and every gradient. The plan takes the unmasked path only where D and N fill
    their blocks."""
    from genomamba_kernels import scan_plan as sp

    monkeypatch.setenv("GENOMAMBA_SCAN_UNMASKED", "1")
    cfg = sp._Plan(2, 8, 4, 97, 1, torch.device(device), 32).f
    assert cfg.even(8, 4) == (8 % cfg.BLOCK_D == 0) and not cfg.even(8, 3)
    if case == "bf16-channel-last":
        run_case(2, 8, 4, 97, torch.bfloat16, device, layout="channel_last", chunk_size=32)
    else:
        run_case(2, 8, 4, 97, torch.float32, device, reverse=True, varlen=True, init=True, chunk_size=32)
    monkeypatch.setenv("GENOMAMBA_SCAN_UNMASKED", "0")
    assert not cfg.even(8, 4)


def test_offsets_past_32_bits_are_refused(device, monkeypatch):
    """The kernels' program bases and the backward's tile offsets are 32-bit: a tensor spanning 2^31 elements or more
    is refused in one line naming it, forward and backward, instead of wrapping around. Shown with the limit lowered
    to a small call's size; the whole-model extremes measured (L = 2^21 one pass at d_inner 512: z spans 2^31 - 512)
    stay under the real one."""
    from genomamba_kernels import selective_scan as ss

    x, kw = make_inputs(1, 8, 4, 37, torch.float32, device)
    span = ss._max_offset(x["u"]) + 1
    monkeypatch.setattr(ss, "_I32_LIMIT", span - 1)  # u reaches offset span - 1
    with pytest.raises(ValueError, match=r"selective scan: u \(1, 8, 37\) spans .* 32-bit offsets"):
        selective_scan_triton(*(x[k] for k in ("u", "delta", "A", "B", "C")), **kw)
    monkeypatch.setattr(ss, "_I32_LIMIT", 2**31)  # a forward that fits, then a backward past the lowered limit
    u = x["u"].requires_grad_()
    y = selective_scan_triton(u, *(x[k] for k in ("delta", "A", "B", "C")), **kw)
    monkeypatch.setattr(ss, "_I32_LIMIT", span - 1)
    with pytest.raises(ValueError, match="selective scan: u"):
        y.sum().backward()
    monkeypatch.setattr(ss, "_I32_LIMIT", 2**31)
    xz = torch.empty(1, 2**21, 1024, device="meta")
    ss._check_offsets(u=torch.empty(1, 2**21, 512, device="meta").transpose(1, 2), z=xz[..., 512:].transpose(1, 2))
    with pytest.raises(ValueError, match="z"):
        ss._check_offsets(z=torch.empty(1, 2**21, 2048, device="meta")[..., 1024:].transpose(1, 2))
    ss._check_offsets(checkpoints=(1, 2**17, 16, 512))  # L = 2^21 in 16-step checkpoints at d_inner 512: 2^30
    with pytest.raises(ValueError, match=r"checkpoints \(1, 262144, 16, 1024\)"):
        ss._check_offsets(checkpoints=(1, 2**18, 16, 1024))  # L = 2^22 at d_inner 1,024: 2^32


def test_pass1_split_fills_the_warp_target(monkeypatch):
    """Pass 1 scans all chunks but the last; at B=64 L=8192 (2 chunks) that is 1,024 one-warp programs, half of
    the 2,112 that fit a 132-SM GPU, so it scans halves of chunks; a plan whose pass 1 already fills the GPU,
    an explicit chunk_size and the CPU keep whole chunks; a part is whole tiles."""
    from genomamba_kernels import scan_plan as sp

    monkeypatch.setattr(sp, "_num_sms", lambda device: 132)
    monkeypatch.delenv("GENOMAMBA_SCAN_PASS1_SPLIT", raising=False)
    cuda = torch.device("cuda")
    assert sp._Plan(64, 512, 16, 8192, 1, cuda).pass1_split == 2
    assert sp._Plan(8, 512, 16, 16384, 1, cuda).pass1_split == 1  # 15 chunks x 128 programs
    assert sp._Plan(1, 512, 16, 131072, 1, cuda).pass1_split == 1
    assert sp._Plan(64, 512, 16, 8192, 1, cuda, chunk_size=4096).pass1_split == 1
    assert sp._Plan(64, 512, 16, 8192, 1, torch.device("cpu")).pass1_split == 1
    monkeypatch.setenv("GENOMAMBA_SCAN_PASS1_SPLIT", "3")
    plan = sp._Plan(64, 512, 16, 8192, 1, cuda)  # 4,096-step chunks: 512 tiles of 8, which 3 does not divide
    assert plan.pass1_split == 2 and (plan.chunk_len // plan.pass1_split) % plan.f.BLOCK_L == 0


def test_chunks_are_whole_tiles_of_both_passes(monkeypatch):
    """A chunk is whole forward tiles and whole backward checkpoint groups even where neither divides the other
    (16-step forward tiles, 24-step groups): a chunk of 4,104 steps would end inside a forward tile, whose steps
    past the chunk pass 3 would scan and store from the wrong state."""
    from genomamba_kernels import scan_plan as sp

    monkeypatch.setattr(sp, "_num_sms", lambda device: 132)
    monkeypatch.setenv("GENOMAMBA_SCAN_FWD", "32x16x1")
    monkeypatch.setenv("GENOMAMBA_SCAN_CKPT_STEPS", "24")
    plan = sp._Plan(64, 512, 16, 8192, 1, torch.device("cuda"))
    group = plan.b.BLOCK_L * plan.b.CKPT_TILES
    assert (plan.f.BLOCK_L, group) == (16, 24)
    assert plan.chunk_len % plan.f.BLOCK_L == 0 and plan.chunk_len % group == 0
    assert (plan.chunk_len // plan.pass1_split) % plan.f.BLOCK_L == 0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_pass1_on_parts_of_chunks_gpu(reverse, monkeypatch):
    """B2-L8191-D64-N16-bf16, channel-last, seq_idx, an initial state: 4 chunks, pass 1 on quarters of each."""
    monkeypatch.setenv("GENOMAMBA_SCAN_PASS1_SPLIT", "4")
    run_case(2, 64, 16, 8191, torch.bfloat16, torch.device("cuda"), layout="channel_last", reverse=reverse,
             varlen=True, init=True, chunk_size=2048)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_unmasked_whole_tiles_gpu(reverse, monkeypatch):
    """B2-L8191-D64-N16-bf16 channel-last with seq_idx and an initial state in 2,048-step chunks, under
    GENOMAMBA_SCAN_UNMASKED=1 (whole tiles and groups unmasked, each chunk's last one masked)."""
    monkeypatch.setenv("GENOMAMBA_SCAN_UNMASKED", "1")
    run_case(2, 64, 16, 8191, torch.bfloat16, torch.device("cuda"), layout="channel_last", reverse=reverse,
             varlen=True, init=True, chunk_size=2048)


def test_forward_chunks_stay_within_the_warp_target(monkeypatch):
    """The forward's chunk count keeps its programs within FWD_WARPS_PER_SM warps a SM (rounded down):
    on a 132-SM GPU, B=64 D=512 L=8192 (1,024 one-warp programs a chunk) takes 2 chunks, not 3 (a third
    wave's tail cost 15%, BENCHMARKS.md 7h); B=1 L=131072 still fills the GPU with ~132 chunks."""
    from genomamba_kernels import scan_plan as sp

    monkeypatch.setattr(sp, "_num_sms", lambda device: 132)
    cuda = torch.device("cuda")
    assert sp._Plan(64, 512, 16, 8192, 1, cuda).n_chunks == 2
    assert sp._Plan(1, 512, 16, 131072, 1, cuda).n_chunks == 131  # 132 asked, chunks of whole 16-step units
    assert sp._Plan(256, 512, 16, 8192, 1, cuda).n_chunks == 1


def test_register_caps_fit_the_planned_warps(monkeypatch):
    """On CUDA the forward passes and the checkpoint pass are capped at the registers that let FWD_WARPS_PER_SM
    one-warp programs share a SM (128; uncapped they took 146 and 134, which fit 12: BENCHMARKS.md 7l); the
    backward is not capped; GENOMAMBA_SCAN_<PASS>_MAXNREG overrides (0: none); CPU tensors never get a cap."""
    from types import SimpleNamespace

    from genomamba_kernels import scan_plan as sp

    for k in ("FWD", "BWD", "CKPT_PASS"):
        monkeypatch.delenv(f"GENOMAMBA_SCAN_{k}_MAXNREG", raising=False)
    on_cuda = SimpleNamespace(is_cuda=True)
    assert sp._MAXNREG["FWD"] * 32 * sp._env_int("FWD_WARPS_PER_SM") == 65536
    assert sp._reg_cap("FWD", on_cuda) == sp._reg_cap("CKPT_PASS", on_cuda) == {"maxnreg": 128}
    assert sp._reg_cap("BWD", on_cuda) == {} and sp._reg_cap("FWD", torch.zeros(1)) == {}
    monkeypatch.setenv("GENOMAMBA_SCAN_FWD_MAXNREG", "0")
    monkeypatch.setenv("GENOMAMBA_SCAN_BWD_MAXNREG", "200")
    assert sp._reg_cap("FWD", on_cuda) == {} and sp._reg_cap("BWD", on_cuda) == {"maxnreg": 200}
