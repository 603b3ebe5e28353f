"""Whole-model GPU benchmark: genomamba's CharMambaLM vs mamba-ssm's MambaLMHeadModel, same process.

Same size for both (d_model 256, 8 layers, d_state 16, d_conv 4, expand 2, vocab 16); mamba-ssm
with causal-conv1d, fused add-norm and an fp32 residual (its fast path). bf16 autocast; training
rows time forward + cross-entropy + backward, inference rows a forward under
`torch.inference_mode()` with the model in eval mode. Peak memory is `max_memory_allocated` over
one step. A torch.profiler table of one genomamba layer (a 1-layer model) forward + backward is
written beside the results. Issue 10 part 1.

    python benchmarks/bench_lm_gpu.py --out results/ [--quick] [--models genomamba,mamba_ssm]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

D_MODEL, N_LAYER, D_STATE, VOCAB = 256, 8, 16, 16
TRAIN_ROWS = [(8, 16384), (1, 131072), (1, 1 << 20)]
INFER_ROWS = [(1, 1 << 20), (64, 8192)]


def build(name: str, n_layer: int = N_LAYER) -> torch.nn.Module:
    """One model of the benchmark's size on the GPU, fp32 weights (autocast does the bf16)."""
    torch.manual_seed(0)
    if name == "mamba_ssm":
        from mamba_ssm.models.config_mamba import MambaConfig as SsmConfig
        from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel

        cfg = SsmConfig(d_model=D_MODEL, n_layer=n_layer, vocab_size=VOCAB, ssm_cfg={"layer": "Mamba1"},
                        rms_norm=True, residual_in_fp32=True, fused_add_norm=True, pad_vocab_size_multiple=8)
        return MambaLMHeadModel(cfg, device="cuda")
    from genomamba.models import CharMambaLM, MambaConfig

    return CharMambaLM(MambaConfig(d_model=D_MODEL, n_layer=n_layer, d_state=D_STATE, vocab_size=VOCAB)).cuda()


def logits_of(model, tokens):
    out = model(tokens)
    return out.logits if hasattr(out, "logits") else out


def time_step(step, n_rep: int) -> tuple[float, float]:
    """(median ms, peak GiB) of `step` after one warm-up; the peak is measured over one step."""
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


def bench_model(name: str, n_rep: int, rows_train, rows_infer) -> list[dict]:
    model = build(name)
    results = []
    for mode, rows in (("train", rows_train), ("infer", rows_infer)):
        for Bsz, L in rows:
            tokens = torch.randint(0, 5, (Bsz, L + 1), device="cuda")
            inp, tgt = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()
            if mode == "train":
                model.train()

                def step():
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        logits = logits_of(model, inp)
                    F.cross_entropy(logits.float().flatten(0, 1), tgt.flatten()).backward()
                    model.zero_grad(set_to_none=True)
            else:
                model.eval()

                def step():
                    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                        logits_of(model, inp)
            try:
                ms, peak = time_step(step, n_rep if Bsz * L < (1 << 20) else max(3, n_rep // 4))
                err = ""
            except torch.cuda.OutOfMemoryError as e:
                ms, peak, err = float("nan"), float("nan"), f"OOM: {str(e)[:60]}"
            del tokens, inp, tgt
            torch.cuda.empty_cache()
            r = dict(model=name, mode=mode, B=Bsz, L=L, ms=ms, tokens_per_s=Bsz * L / (ms * 1e-3), peak_gib=peak,
                     error=err)
            print(f"{name:10s} {mode:5s} B={Bsz:<3d} L={L:<8d} {ms:9.1f} ms {r['tokens_per_s'] / 1e6:7.2f} M tok/s "
                  f"{peak:6.2f} GiB {err}", flush=True)
            results.append(r)
    del model
    torch.cuda.empty_cache()
    return results


def profile_layer(out: Path, L: int) -> str:
    """torch.profiler table (CUDA time) of one genomamba layer forward + backward, B=1."""
    from torch.profiler import ProfilerActivity, profile

    model = build("genomamba", n_layer=1).train()
    tokens = torch.randint(0, 5, (1, L + 1), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = logits_of(model, tokens[:, :-1])
        F.cross_entropy(logits.float().flatten(0, 1), tokens[:, 1:].flatten()).backward()

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=30, max_name_column_width=70)
    (out / "profile_layer.txt").write_text(f"one genomamba layer (1-layer CharMambaLM), B=1 L={L}, fwd+bwd\n{table}\n")
    return table


def ratios(results: list[dict]) -> list[dict]:
    """genomamba / mamba-ssm per row: tokens/s ratio and peak-memory ratio."""
    key = {(r["model"], r["mode"], r["B"], r["L"]): r for r in results}
    rows = []
    for (m, mode, Bsz, L), g in key.items():
        s = key.get(("mamba_ssm", mode, Bsz, L))
        if m != "genomamba" or s is None:
            continue
        rows.append(dict(mode=mode, B=Bsz, L=L, ssm=s, gm=g, speed=g["tokens_per_s"] / s["tokens_per_s"],
                         memory=g["peak_gib"] / s["peak_gib"]))
    return rows


def markdown(results: list[dict], device: str) -> str:
    lines = [f"device: {device}; bf16 autocast; d_model {D_MODEL}, {N_LAYER} layers, d_state {D_STATE}, vocab {VOCAB}",
             "", "| measure | mamba-ssm | genomamba | speed ratio | memory ratio |", "| --- | --- | --- | --- | --- |"]
    for r in ratios(results):
        label = ("training" if r["mode"] == "train" else "forward only") + f", B={r['B']} L={r['L']:,}"
        cell = lambda x: f"{x['tokens_per_s'] / 1e6:.2f} M tokens/s, {x['peak_gib']:.1f} GiB"  # noqa: E731
        lines.append(f"| {label} | {cell(r['ssm'])} | {cell(r['gm'])} | {r['speed']:.2f}x | {r['memory']:.2f}x |")
    if not ratios(results):
        for r in results:
            lines.append(f"| {r['model']} {r['mode']} B={r['B']} L={r['L']:,} | | "
                         f"{r['tokens_per_s'] / 1e6:.2f} M tokens/s, {r['peak_gib']:.1f} GiB | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for results.json, results.md, profile_layer.txt")
    ap.add_argument("--models", default="mamba_ssm,genomamba")
    ap.add_argument("--rep", type=int, default=12, help="timed steps per row (a quarter at >= 1M tokens)")
    ap.add_argument("--quick", action="store_true", help="small rows only (a smoke test)")
    ap.add_argument("--profile-L", type=int, default=1 << 20)
    ap.add_argument("--tag", default="", help="label stored in results.json (e.g. before / after)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows_train, rows_infer = (([(2, 4096)], [(2, 4096)]) if args.quick else (TRAIN_ROWS, INFER_ROWS))
    device = torch.cuda.get_device_name()
    t0 = time.time()
    results = []
    for name in args.models.split(","):
        results += bench_model(name, args.rep, rows_train, rows_infer)
    table = profile_layer(args.out, 4096 if args.quick else args.profile_L)
    md = markdown(results, device)
    (args.out / "results.json").write_text(json.dumps(dict(tag=args.tag, device=device, results=results), indent=1))
    (args.out / "results.md").write_text(md + "\n")
    print(table)
    print(md)
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
