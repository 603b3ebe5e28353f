"""Whole-model GPU benchmark: genomamba's CharMambaLM vs mamba-ssm's MambaLMHeadModel, same process.

Same size for both (d_model 256, 8 layers, d_state 16, d_conv 4, expand 2, vocab 16); mamba-ssm
with causal-conv1d, fused add-norm and an fp32 residual (its fast path). Training rows time forward
+ cross-entropy + backward under bf16 autocast, inference rows a forward under
`torch.inference_mode()` with the model in eval mode. Peak memory is `max_memory_allocated` over
one step. Model variants (`--models`, run one after another in this process):

    mamba_ssm           MambaLMHeadModel, fp32 weights, bf16 autocast
    mamba_ssm_bf16      MambaLMHeadModel(dtype=bf16) (every weight bf16), no autocast; forward rows only
    genomamba           CharMambaLM, fp32 weights, bf16 autocast; the fused add-norm as
                        GENOMAMBA_FUSED_ADD_NORM says (on unless it is 0)
    genomamba_unfused   the same with the add-norm's torch reference (the math before the fusion)
    genomamba_composed  the block's ops composed (`set_fused_block(False)`: xz and normed saved for
                        backward) and inference in one pass (no chunking): the model before issue 10 part 3's block
    genomamba_onepass   the fused block, inference in one pass (`inference_chunk_tokens = None`)
    genomamba_chunkN    inference in chunks of N tokens (batch x length); forward rows only
    genomamba_bf16      CharMambaLM.for_inference(bf16) (matmul weights bf16, the rest fp32), no
                        autocast; forward rows only

Also: the add + RMSNorm alone at [2^20, 256] (fused kernel, torch reference, mamba-ssm's
`layer_norm_fn`; bf16 x, fp32 residual; forward and forward + backward), and a torch.profiler table
of one genomamba layer (a 1-layer model) forward + backward. Issue 10 parts 1 and 2.

    python benchmarks/bench_lm_gpu.py --out results/ [--quick] [--models genomamba,mamba_ssm]
    python benchmarks/bench_lm_gpu.py --out /tmp/x --device cpu --quick --models genomamba,genomamba_bf16
        (a smoke test of the script on a CPU: tiny rows, wall-clock time, no memory)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

D_MODEL, N_LAYER, D_STATE, VOCAB = 256, 8, 16, 16
TRAIN_ROWS = [(8, 16384), (1, 131072), (1, 1 << 20)]
INFER_ROWS = [(1, 1 << 20), (64, 8192)]
MODELS = "mamba_ssm,mamba_ssm_bf16,genomamba,genomamba_composed,genomamba_onepass,genomamba_unfused,genomamba_bf16"
BF16_WEIGHTS = ("mamba_ssm_bf16", "genomamba_bf16")  # no autocast; inference rows only
CHUNK_VARIANT = "genomamba_chunk"  # genomamba_chunkN: inference in chunks of N tokens; inference rows only


def forward_only(name: str) -> bool:
    return name in BF16_WEIGHTS or name.startswith(CHUNK_VARIANT)


def build(name: str, device: torch.device, n_layer: int = N_LAYER) -> torch.nn.Module:
    """One model of the benchmark's size on `device`: fp32 weights (autocast does the bf16) unless
    the variant is a bf16 one."""
    torch.manual_seed(0)
    if name.startswith("mamba_ssm"):
        from mamba_ssm.models.config_mamba import MambaConfig as SsmConfig
        from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel

        cfg = SsmConfig(d_model=D_MODEL, n_layer=n_layer, vocab_size=VOCAB, ssm_cfg={"layer": "Mamba1"},
                        rms_norm=True, residual_in_fp32=True, fused_add_norm=True, pad_vocab_size_multiple=8)
        dtype = torch.bfloat16 if name == "mamba_ssm_bf16" else None
        return MambaLMHeadModel(cfg, device=device, dtype=dtype)
    from genomamba.models import CharMambaLM, MambaConfig

    model = CharMambaLM(MambaConfig(d_model=D_MODEL, n_layer=n_layer, d_state=D_STATE, vocab_size=VOCAB)).to(device)
    return model.for_inference(torch.bfloat16) if name == "genomamba_bf16" else model


@contextlib.contextmanager
def fused_add_norm(name: str, model):
    """The variant's switches for the duration (unfused: the add-norm's reference; composed: the block's
    ops composed and inference in one pass; onepass: inference in one pass); yields the add-norm's."""
    from genomamba.ops.add_norm import fused_add_norm_enabled, set_fused_add_norm
    from genomamba.ops.mamba_block import fused_block_enabled, set_fused_block

    before, block_before = fused_add_norm_enabled(), fused_block_enabled()
    if name == "genomamba_unfused":
        set_fused_add_norm(False)
    if name == "genomamba_composed":
        set_fused_block(False)
    if name in ("genomamba_composed", "genomamba_onepass"):
        model.inference_chunk_tokens = None
    if name.startswith(CHUNK_VARIANT):
        model.inference_chunk_tokens = int(name[len(CHUNK_VARIANT):])
    try:
        yield fused_add_norm_enabled()
    finally:
        set_fused_add_norm(before)
        set_fused_block(block_before)


def logits_of(model, tokens):
    out = model(tokens)
    return out.logits if hasattr(out, "logits") else out


def autocast(name: str, device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=name not in BF16_WEIGHTS)


def time_step(step, n_rep: int, device: torch.device) -> tuple[float, float]:
    """(median ms, peak GiB) of `step` after one warm-up; the peak is measured over one step (NaN on a CPU)."""
    if device.type != "cuda":
        step()
        times = []
        for _ in range(n_rep):
            t0 = time.perf_counter()
            step()
            times.append((time.perf_counter() - t0) * 1e3)
        return sorted(times)[len(times) // 2], math.nan
    step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**30
    times = []
    for _ in range(n_rep):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2], peak


def make_step(name: str, model: torch.nn.Module, tokens: torch.Tensor, mode: str, device: torch.device):
    """One timed step on `tokens` `[B, L + 1]`: "train" (model.train(); forward + cross-entropy + backward,
    grads dropped) or "infer" (model.eval(); a forward under inference mode)."""
    inp, tgt = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
    model.train(mode == "train")
    if mode == "train":

        def step():
            with autocast(name, device):
                logits = logits_of(model, inp)
            F.cross_entropy(logits.float().flatten(0, 1), tgt.flatten()).backward()
            model.zero_grad(set_to_none=True)
    else:

        def step():
            with torch.inference_mode(), autocast(name, device):
                logits_of(model, inp)
    return step


def bench_model(name: str, n_rep: int, rows_train, rows_infer, device: torch.device) -> list[dict]:
    model = build(name, device)
    results = []
    with fused_add_norm(name, model) as fused:
        for mode, rows in (("train", [] if forward_only(name) else rows_train), ("infer", rows_infer)):
            for Bsz, L in rows:
                tokens = torch.randint(0, 5, (Bsz, L + 1), device=device)
                step = make_step(name, model, tokens, mode, device)
                try:
                    ms, peak = time_step(step, n_rep if Bsz * L < (1 << 20) else max(3, n_rep // 4), device)
                    err = ""
                except torch.cuda.OutOfMemoryError as e:
                    ms, peak, err = float("nan"), float("nan"), f"OOM: {str(e)[:60]}"
                del tokens, step
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                r = dict(model=name, mode=mode, B=Bsz, L=L, ms=ms, tokens_per_s=Bsz * L / (ms * 1e-3), peak_gib=peak,
                         error=err, fused_add_norm=fused if name.startswith("genomamba") else None)
                print(f"{name:17s} {mode:5s} B={Bsz:<3d} L={L:<8d} {ms:9.1f} ms {r['tokens_per_s'] / 1e6:7.2f} M tok/s "
                      f"{peak:6.2f} GiB {err}", flush=True)
                results.append(r)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return results


def bench_add_norm(M: int, device: torch.device) -> list[dict]:
    """The add + RMSNorm alone, x bf16 `[M, 256]` + fp32 residual -> (y bf16, r fp32): ms forward and
    forward + backward (median of `triton.testing.do_bench`) and peak GiB of one fwd+bwd."""
    from triton.testing import do_bench

    from genomamba.ops.add_norm import add_rms_norm_ref
    from genomamba_kernels import add_rms_norm_triton

    fns = {"genomamba fused": add_rms_norm_triton, "torch reference": add_rms_norm_ref}
    try:
        from mamba_ssm.ops.triton.layer_norm import layer_norm_fn

        fns["mamba-ssm layer_norm_fn"] = lambda x, r, w, eps, prenorm: layer_norm_fn(
            x, w, None, residual=r, eps=eps, prenorm=prenorm, residual_in_fp32=True, is_rms_norm=True)
    except ImportError:
        pass
    x = torch.randn(M, D_MODEL, device=device, dtype=torch.bfloat16, requires_grad=True)
    res = torch.randn(M, D_MODEL, device=device, requires_grad=True)
    w = torch.ones(D_MODEL, device=device, requires_grad=True)
    dy, dr = torch.randn_like(x), torch.randn_like(res)
    rows = []
    for label, fn in fns.items():
        def fwd():
            with torch.no_grad():
                fn(x, res, w, 1e-5, True)

        def fwd_bwd():
            y, r = fn(x, res, w, 1e-5, True)
            torch.autograd.backward((y, r), (dy, dr))

        ms_f = do_bench(fwd, return_mode="median")
        ms_fb = do_bench(fwd_bwd, grad_to_none=[x, res, w], return_mode="median")
        peak = math.nan
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            fwd_bwd()
            torch.cuda.synchronize()
            peak = (torch.cuda.max_memory_allocated() - base) / 2**30
        rows.append(dict(op=label, M=M, N=D_MODEL, fwd_ms=ms_f, fwd_bwd_ms=ms_fb, extra_peak_gib=peak))
        print(f"add+rmsnorm {label:24s} M={M} fwd {ms_f:7.3f} ms  fwd+bwd {ms_fb:7.3f} ms  +{peak:.2f} GiB", flush=True)
    return rows


def profile_layer(out: Path, B: int, L: int, device: torch.device, models: list[str]) -> str:
    """torch.profiler tables (CUDA time) of one layer (a 1-layer model) of each of `models` at [B, L]:
    forward + backward in training, and the forward alone under inference mode (profile_layer.txt)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CUDA] if device.type == "cuda" else [ProfilerActivity.CPU]
    sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    tables = []
    for name in models:
        model = build(name, device, n_layer=1)
        tokens = torch.randint(0, 5, (B, L + 1), device=device)
        for title, mode in (("fwd+bwd", "train"), ("forward only (inference mode)", "infer")):
            step = make_step(name, model, tokens, mode, device)
            step()
            with profile(activities=activities) as prof:
                step()
                if device.type == "cuda":
                    torch.cuda.synchronize()
            table = prof.key_averages().table(sort_by=sort, row_limit=30, max_name_column_width=70)
            tables.append(f"one {name} layer (1-layer model), B={B} L={L}, {title}\n{table}\n")
        del model
    text = "\n".join(tables)
    (out / "profile_layer.txt").write_text(text)
    return text


def ratios(results: list[dict]) -> list[dict]:
    """Each genomamba variant / mamba-ssm per row (the bf16-weight variant also / mamba_ssm_bf16):
    tokens/s ratio and peak-memory ratio."""
    key = {(r["model"], r["mode"], r["B"], r["L"]): r for r in results}
    rows = []
    for (m, mode, Bsz, L), g in key.items():
        if not m.startswith("genomamba"):
            continue
        for base in ("mamba_ssm", "mamba_ssm_bf16") if m == "genomamba_bf16" else ("mamba_ssm",):
            s = key.get((base, mode, Bsz, L))
            if s is not None:
                rows.append(dict(model=m, base=base, mode=mode, B=Bsz, L=L, ssm=s, gm=g,
                                 speed=g["tokens_per_s"] / s["tokens_per_s"], memory=g["peak_gib"] / s["peak_gib"]))
    return rows


def markdown(results: list[dict], norm_rows: list[dict], device: str) -> str:
    cell = lambda x: f"{x['tokens_per_s'] / 1e6:.2f} M tokens/s, {x['peak_gib']:.1f} GiB"  # noqa: E731
    label = lambda r: ("training" if r["mode"] == "train" else "forward only") + f", B={r['B']} L={r['L']:,}"  # noqa: E731
    lines = [f"device: {device}; d_model {D_MODEL}, {N_LAYER} layers, d_state {D_STATE}, vocab {VOCAB}", "",
             "| model | measure | result |", "| --- | --- | --- |"]
    lines += [f"| {r['model']} | {label(r)} | {cell(r)} {r['error']} |" for r in results]
    if ratios(results):
        lines += ["", "| genomamba variant | vs | measure | genomamba | baseline | speed ratio | memory ratio |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {r['model']} | {r['base']} | {label(r)} | {cell(r['gm'])} | {cell(r['ssm'])} | {r['speed']:.2f}x "
                  f"| {r['memory']:.2f}x |" for r in ratios(results)]
    if norm_rows:
        lines += ["", f"add + RMSNorm alone, x bf16 + fp32 residual [{norm_rows[0]['M']}, {D_MODEL}], prenorm:", "",
                  "| op | fwd ms | fwd+bwd ms | extra peak GiB |", "| --- | --- | --- | --- |"]
        lines += [f"| {r['op']} | {r['fwd_ms']:.3f} | {r['fwd_bwd_ms']:.3f} | {r['extra_peak_gib']:.2f} |" for r in norm_rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for results.json, results.md, profile_layer.txt")
    ap.add_argument("--models", default=MODELS, help=f"comma-separated variants (default {MODELS})")
    ap.add_argument("--rep", type=int, default=12, help="timed steps per row (a quarter at >= 1M tokens)")
    ap.add_argument("--quick", action="store_true", help="small rows only (a smoke test)")
    ap.add_argument("--profile-L", type=int, default=1 << 20, help="length of the one-layer profile")
    ap.add_argument("--profile-B", type=int, default=1, help="batch of the one-layer profile")
    ap.add_argument("--profile-models", default="genomamba", help="comma-separated variants to profile")
    ap.add_argument("--norm-M", type=int, default=1 << 20, help="rows of the add + RMSNorm micro-benchmark (0: skip)")
    ap.add_argument("--device", default="cuda", help="cuda (the benchmark) or cpu (a smoke test of the script)")
    ap.add_argument("--tag", default="", help="label stored in results.json (e.g. before / after)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    if args.quick:
        rows_train, rows_infer = ([(2, 4096)], [(2, 4096)]) if device.type == "cuda" else ([(1, 64)], [(1, 64)])
    else:
        rows_train, rows_infer = TRAIN_ROWS, INFER_ROWS
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    t0 = time.time()
    results = []
    for model in [m for m in args.models.split(",") if m]:  # empty: the profile alone
        results += bench_model(model, args.rep if device.type == "cuda" else 1, rows_train, rows_infer, device)
    norm_rows = bench_add_norm(4096 if args.quick else args.norm_M, device) if args.norm_M and device.type == "cuda" else []
    table = profile_layer(args.out, args.profile_B, (4096 if device.type == "cuda" else 64) if args.quick else args.profile_L,
                          device, args.profile_models.split(","))
    md = markdown(results, norm_rows, name)
    (args.out / "results.json").write_text(json.dumps(dict(tag=args.tag, device=name, results=results,
                                                           add_norm=norm_rows), indent=1))
    (args.out / "results.md").write_text(md + "\n")
    print(table)
    print(md)
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
