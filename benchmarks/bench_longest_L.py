"""The longest sequence trained with exact gradients on one GPU: exact chunked backprop through time
(`genomamba.lit.bptt`) against the one-pass training step, doubling L until out of memory.

One training step = forward, next-base loss, backward and an AdamW step, B = 1, under bf16 autocast
(fp32 weights, as `trainer=gpu` trains), a CharMambaLM of --d-model x --n-layer (default 256 x 8).
Two series, each doubling L from --min-len: `one_pass` (the plain step) until it runs out of memory,
and `chunked` (exact, --chunk tokens per chunk) until out of memory, --max-len, or the --max-seconds
budget would be passed by the next (twice as long) step. An out-of-memory step is caught and recorded
as "oom"; a step runs untimed first where the kernels meet new shapes. Each row: step seconds,
tokens/s, the ratio to the one-pass tokens/s at --min-len, and CUDA's peak allocated memory.

    python benchmarks/bench_longest_L.py --out longest_L.json                      # on an H200
    python benchmarks/bench_longest_L.py --min-len 33554432 --max-len 67108864 --modes chunked --out l26.json
    python benchmarks/bench_longest_L.py --device cpu --d-model 16 --n-layer 1 --min-len 256 \\
        --max-len 1024 --chunk 256 --out /tmp/longest_L.json                       # smoke run

If the chunked series fails at its second length (the recomputed chunks run the composed, not the
fused, mixer: more activations per token), give a smaller --chunk (e.g. 524288).
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

MODES = ("one_pass", "chunked", "truncated")


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def train_step(mode: str, model, optimizer, tokens, chunk: int, dtype) -> float:
    """One optimizer step on `tokens` `[B, L]`; returns the loss."""
    import torch

    from genomamba.lit.bptt import chunked_backward
    from genomamba.lit.pretrain import next_base_loss, next_base_loss_terms

    with torch.autocast(tokens.device.type, dtype=dtype, enabled=dtype != torch.float32):
        if mode == "one_pass":
            loss, _ = next_base_loss(model(tokens), tokens)
            loss.backward()
        else:
            loss_fn, _ = next_base_loss_terms(tokens)
            loss = chunked_backward(model, tokens, chunk, loss_fn, truncated=mode == "truncated")
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss)


def run_series(mode: str, args, device, dtype, t_start: float) -> list[dict]:
    """Rows of one mode, L doubling from --min-len, up to its first OOM, --max-len or the budget."""
    import torch

    from genomamba.models import CharMambaLM, MambaConfig

    torch.manual_seed(0)
    model = CharMambaLM(MambaConfig(d_model=args.d_model, n_layer=args.n_layer)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rows, L, warmed = [], args.min_len, set()
    while L <= args.max_len:
        row = {"mode": mode, "L": L, "batch": args.batch, "chunk": None if mode == "one_pass" else args.chunk}
        oom = False
        try:
            tokens = torch.randint(0, 4, (args.batch, L), device=device)
            # warm-up where the kernels' shapes are new: every one-pass length; a chunked series at its
            # first length and its first of several chunks (whose recomputed chunks compose the ops)
            shapes = L if mode == "one_pass" else min(L, 2 * args.chunk)
            if shapes not in warmed:
                train_step(mode, model, optimizer, tokens, args.chunk, dtype)
                warmed.add(shapes)
            _free(device)
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(args.repeats):
                loss = train_step(mode, model, optimizer, tokens, args.chunk, dtype)
            _sync(device)
            step = (time.perf_counter() - t0) / args.repeats
            peak = int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None
            row.update(status="ok", step_s=step, tokens_per_s=args.batch * L / step, peak_bytes=peak, loss=loss)
        except torch.OutOfMemoryError:
            oom = True
        if oom:  # outside the handler, so the failed step's tensors are unreachable when freed
            row["status"] = "oom"
            optimizer.zero_grad(set_to_none=True)
        tokens = None
        _free(device)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if oom:
            break
        elapsed = time.perf_counter() - t_start
        if elapsed + 2.2 * step * args.repeats > args.max_seconds and 2 * L <= args.max_len:
            rows.append({"mode": mode, "L": 2 * L, "batch": args.batch, "chunk": row["chunk"], "status": "budget"})
            print(json.dumps(rows[-1]), flush=True)
            break
        L *= 2
    return rows


def markdown(rows: list[dict], min_len: int) -> str:
    base = next((r["tokens_per_s"] for r in rows if r["mode"] == "one_pass" and r["L"] == min_len
                 and r["status"] == "ok"), None)
    out = ["| mode | L | log2 L | chunk | status | step (s) | tokens/s | x one-pass tokens/s at min L | peak GiB |",
           "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        ok = r["status"] == "ok"
        cells = [r["mode"], f"{r['L']:,}", f"{r['L'].bit_length() - 1}", f"{r['chunk']:,}" if r["chunk"] else "-",
                 r["status"], f"{r['step_s']:.3f}" if ok else "-", f"{r['tokens_per_s']:,.0f}" if ok else "-",
                 f"{r['tokens_per_s'] / base:.2f}" if ok and base else "-",
                 f"{r['peak_bytes'] / (1 << 30):.1f}" if ok and r["peak_bytes"] is not None else "-"]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="JSON file for the machine, command and every row")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke runs)")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"], help="autocast dtype (default bf16)")
    p.add_argument("--modes", default="one_pass,chunked", help=f"comma-separated, of {', '.join(MODES)}")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-layer", type=int, default=8)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--chunk", type=int, default=1 << 20, help="tokens per chunk (chunked, truncated)")
    p.add_argument("--min-len", type=int, default=1 << 20)
    p.add_argument("--max-len", type=int, default=1 << 27)
    p.add_argument("--repeats", type=int, default=1, help="timed steps per length")
    p.add_argument("--max-seconds", type=float, default=480.0,
                   help="stop before a step that would end past this many seconds from the start")
    args = p.parse_args(argv)
    args.modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in args.modes if m not in MODES]
    if bad:
        p.error(f"unknown mode: {', '.join(bad)} (choose from {', '.join(MODES)})")

    import torch

    from genomamba.atomic import atomic_write_text

    t_start = time.perf_counter()
    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    rows = [r for mode in args.modes for r in run_series(mode, args, device, dtype, t_start)]
    meta = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine, "host": platform.node(), "torch": torch.__version__,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    print(f"\nd_model {args.d_model}, {args.n_layer} layers, {args.dtype} autocast, batch {args.batch}; "
          f"{machine}, {meta['date']}\n")
    print(markdown(rows, args.min_len))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
