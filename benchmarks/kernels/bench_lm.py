"""End-to-end training-step throughput of CharMambaLM with each scan backend.

CharMambaLM (d_model 256, 8 layers, d_state 16) on one sequence of L=131072 tokens, bf16
autocast, forward + cross-entropy + backward; tokens/s from the median of triton.testing.do_bench.
Backends are switched with `genomamba.ops.set_backend_override`, so only the scan differs.

    PYTHONPATH=.:/tmp/gk python benchmarks/kernels/bench_lm.py [--L 131072] [--backends triton,mamba_ssm,torch]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from triton.testing import do_bench

from genomamba.models import CharMambaLM, MambaConfig
from genomamba.ops import set_backend_override


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--L", type=int, default=131072)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--backends", default="triton,mamba_ssm,torch")
    ap.add_argument("--slow-limit-s", type=float, default=20.0, help="report one run when a step is slower")
    args = ap.parse_args()
    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=256, n_layer=8)).cuda()
    tokens = torch.randint(0, 5, (args.batch, args.L + 1), device="cuda")
    inp, tgt = tokens[:, :-1], tokens[:, 1:]

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(inp)
        loss = F.cross_entropy(logits.float().flatten(0, 1), tgt.flatten())
        loss.backward()

    print(torch.cuda.get_device_name(), "L", args.L, "batch", args.batch, flush=True)
    rows = []
    for name in args.backends.split(","):
        set_backend_override(name)
        try:
            step()
            model.zero_grad(set_to_none=True)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            step()
            torch.cuda.synchronize()
            first = time.perf_counter() - t0
            torch.cuda.reset_peak_memory_stats()
            if first > args.slow_limit_s:
                ms, note = first * 1e3, "1 run"
            else:
                ms = do_bench(step, warmup=2, rep=20, grad_to_none=list(model.parameters()), return_mode="median")
                note = ""
            peak = torch.cuda.max_memory_allocated() / 2**30
        except (torch.cuda.OutOfMemoryError, RuntimeError, NotImplementedError) as e:
            ms, peak, note = float("nan"), float("nan"), f"{type(e).__name__}: {str(e)[:80]}"
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        tps = args.batch * args.L / (ms * 1e-3)
        rows.append((name, ms, tps, peak, note))
        print(f"{name}: {ms:.1f} ms/step, {tps:,.0f} tokens/s, peak {peak:.1f} GiB {note}", flush=True)
    set_backend_override(None)
    base = {r[0]: r for r in rows}.get("mamba_ssm")
    print("\n| backend | ms/step | tokens/s | vs mamba_ssm | peak GiB | note |\n|---|---|---|---|---|---|")
    for name, ms, tps, peak, note in rows:
        rel = f"{base[1] / ms:.2f}x" if base and base[1] == base[1] else ""
        print(f"| {name} | {ms:.1f} | {tps:,.0f} | {rel} | {peak:.1f} | {note} |")


if __name__ == "__main__":
    main()
