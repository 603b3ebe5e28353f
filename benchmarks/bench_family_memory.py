"""Mamba vs transformer vs hybrid against sequence length: training step time and peak memory, and
the memory of streaming inference (a transformer's growing KV cache vs Mamba's fixed state vs the
hybrid's fixed state plus a KV cache bounded by its attention window).

The hybrid is `model=char_hybrid_small` by default: the Mamba with layers 3 and 7 (--attn-layers)
as causal RoPE attention over a sliding window of 4096 (--attn-window; 0 = full causal attention).
All three have the same width and depth (default d 256, 8 layers) and run under bf16 autocast
(fp32 weights, as `trainer=gpu` trains). For each model, lengths go from --min-len doubling up to
--max-len; the first length that runs out of memory is recorded as "oom" (caught) and longer ones
are not tried, and likewise once a step takes longer than --time-limit seconds.

- train: one AdamW step (forward, next-base loss, backward, optimizer step) on a `[batch, L]`
  batch, after one warm-up step; reports seconds per step, tokens/s and peak allocated memory.
  At least one step is timed after the warm-up (repeats drop to 1 when the warm-up is slower
  than --time-limit): a new L can compile new kernel variants (Triton types an integer argument
  of 2^31 or more, such as the batch stride of `[1, 2^21, 1024]`, as int64, a new signature), and
  each series also starts with an untimed run at --min-len.
- infer: L random bases streamed through the model --chunk at a time with the carried state (as
  `genomamba-score fasta` does); reports the carried state's size after L bases and the peak
  allocated memory.

    python benchmarks/bench_family_memory.py --out benchmarks/family_memory            # on a GPU
    python benchmarks/bench_family_memory.py --device cpu --max-len 1024 --out /tmp/fm  # smoke run

Writes `results.json` (machine, command, every row) and `family_memory.png` under --out. Peak
memory is CUDA's `max_memory_allocated`; on a CPU it is not measured (null), the state size is.
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

MODELS = ("mamba", "transformer", "hybrid")
COLOURS = {"mamba": "tab:blue", "transformer": "tab:red", "hybrid": "tab:green"}


def build(kind: str, args):
    from genomamba.models import CharMambaLM, MambaConfig, TransformerConfig, TransformerLM

    if kind == "mamba":
        return CharMambaLM(MambaConfig(d_model=args.d_model, n_layer=args.n_layer))
    if kind == "hybrid":
        return CharMambaLM(MambaConfig(
            d_model=args.d_model, n_layer=args.n_layer, attn_layer_idx=args.attn_layers,
            attn_num_heads=args.n_head, attn_window=args.attn_window or None,
        ))
    return TransformerLM(TransformerConfig(d_model=args.d_model, n_layer=args.n_layer, n_head=args.n_head))


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def _state_bytes(state) -> int:
    import torch

    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, (list, tuple)):
        return sum(_state_bytes(s) for s in state)
    return 0


def train_step(model, optimizer, tokens, dtype):
    import torch

    from genomamba.lit.pretrain import next_base_loss

    with torch.autocast(tokens.device.type, dtype=dtype, enabled=dtype != torch.float32):
        loss, _ = next_base_loss(model(tokens), tokens)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss)


def run_train(kind: str, L: int, args, device, dtype) -> dict:
    import torch

    model = build(kind, args).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens = torch.randint(0, 4, (args.batch, L), device=device)
    _reset_peak(device)
    t0 = time.perf_counter()
    train_step(model, optimizer, tokens, dtype)  # warm-up: kernels compiled, optimizer state allocated
    _sync(device)
    warmup = time.perf_counter() - t0
    repeats = args.repeats if warmup <= args.time_limit else 1  # a slow warm-up may be compiling: time one more
    t0 = time.perf_counter()
    for _ in range(repeats):
        train_step(model, optimizer, tokens, dtype)
    _sync(device)
    step = (time.perf_counter() - t0) / repeats
    return {"step_s": step, "warmup_s": warmup, "tokens_per_s": args.batch * L / step, "peak_bytes": _peak(device),
            "params": model.num_parameters, "timed_steps": repeats}


def run_infer(kind: str, L: int, args, device, dtype) -> dict:
    import torch

    model = build(kind, args).to(device).eval()
    _reset_peak(device)
    t0 = time.perf_counter()
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        state = model.allocate_state(1, device)
        for s in range(0, L, args.chunk):
            tokens = torch.randint(0, 4, (1, min(args.chunk, L - s)), device=device)
            _, state = model(tokens, state, return_state=True)
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"step_s": seconds, "tokens_per_s": L / seconds, "peak_bytes": _peak(device),
            "state_bytes": _state_bytes(state), "params": model.num_parameters}


def sweep(args, device, dtype) -> list[dict]:
    """Every (mode, model, length) row, stopping a series at its first OOM or time-limit step."""
    import torch

    lengths = [args.min_len << k for k in range(64) if args.min_len << k <= args.max_len] or [args.max_len]
    rows = []
    for mode, fn in (("train", run_train), ("infer", run_infer)):
        if mode not in args.modes:
            continue
        for kind in args.models:
            fn(kind, args.min_len, args, device, dtype)  # compile every kernel first: not part of any row
            for L in lengths:
                row = {"mode": mode, "model": kind, "L": L, "batch": args.batch if mode == "train" else 1}
                try:
                    row.update(status="ok", **fn(kind, L, args, device, dtype))
                except torch.OutOfMemoryError:
                    row["status"] = "oom"
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                rows.append(row)
                print(json.dumps(row), flush=True)
                if row["status"] == "oom":
                    break
                if row["step_s"] > args.time_limit:
                    rows.append({**{k: row[k] for k in ("mode", "model", "batch")}, "L": 2 * L, "status": "time_limit"})
                    break
    return rows


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    panels = [("train", "step_s", "training step (s)"), ("train", "peak_bytes", "training peak memory (GiB)"),
              ("infer", "peak_bytes", "streaming inference memory (GiB)")]
    for ax, (mode, key, label) in zip(axes, panels):
        for kind, colour in COLOURS.items():
            series = [r for r in rows if r["mode"] == mode and r["model"] == kind]
            ok = [r for r in series if r["status"] == "ok" and r.get(key) is not None]
            scale = 1.0 if key == "step_s" else 1 / (1 << 30)
            if mode == "infer" and not ok:  # no peak measured (CPU): plot the carried state instead
                ok, key_used = [r for r in series if r["status"] == "ok"], "state_bytes"
            else:
                key_used = key
            if ok:
                ax.plot([r["L"] for r in ok], [r[key_used] * scale for r in ok], "o-", color=colour, label=kind)
                if mode == "infer" and key_used != "state_bytes":
                    ax.plot([r["L"] for r in ok], [r["state_bytes"] * scale for r in ok], "--", color=colour,
                            alpha=0.6, label=f"{kind} carried state")
            for r in series:
                if r["status"] != "ok":
                    ax.axvline(r["L"], color=colour, ls=":", alpha=0.7)
                    ax.text(r["L"], 0.95, f" {kind} {r['status']}", color=colour, rotation=90, va="top",
                            fontsize=8, transform=ax.get_xaxis_transform())
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length L (bases)")
        ax.set_ylabel(label if key_used == key else "carried state (GiB; peak not measured on a CPU)")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(rows: list[dict], models: list[str]) -> str:
    """One line per L: each model's training step and peak, and streaming peak (carried state)."""
    def gib(b):
        return "n/a" if b is None else f"{b / (1 << 30):.2f} GiB"

    def cell(mode, kind, L):
        r = next((r for r in rows if (r["mode"], r["model"], r["L"]) == (mode, kind, L)), None)
        if r is None or r["status"] != "ok":
            return r["status"] if r else ""
        if mode == "train":
            return f"{r['step_s'] * 1e3:,.0f} ms, {gib(r['peak_bytes'])}"
        return f"{gib(r['peak_bytes'])} ({r['state_bytes'] / (1 << 20):,.2f} MiB)"

    head = [f"{k} train step, peak" for k in models] + [f"{k} streaming peak (state)" for k in models]
    lines = ["| L | " + " | ".join(head) + " |", "| --- " * (len(head) + 1) + "|"]
    for L in sorted({r["L"] for r in rows}):
        cells = [cell("train", k, L) for k in models] + [cell("infer", k, L) for k in models]
        lines.append(f"| {L:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for results.json and family_memory.png")
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke runs)")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp32"], help="autocast dtype (default bf16)")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, of {', '.join(MODELS)}")
    p.add_argument("--modes", default="train,infer", help="comma-separated: train, infer")
    p.add_argument("--d-model", type=int, default=256)
    p.add_argument("--n-layer", type=int, default=8)
    p.add_argument("--n-head", type=int, default=4, help="attention heads of the transformer and "
                   "the hybrid (head_dim = d_model / n_head)")
    p.add_argument("--attn-layers", default=None,
                   help="hybrid: comma-separated attention layer indices (default every 4th: 3, 7 of 8 layers)")
    p.add_argument("--attn-window", type=int, default=4096, help="hybrid: attention window (0 = full causal)")
    p.add_argument("--batch", type=int, default=1, help="training batch size")
    p.add_argument("--min-len", type=int, default=1 << 12)
    p.add_argument("--max-len", type=int, default=1 << 22)
    p.add_argument("--chunk", type=int, default=1 << 13, help="bases per call when streaming inference")
    p.add_argument("--repeats", type=int, default=2, help="timed training steps per length")
    p.add_argument("--time-limit", type=float, default=120.0, help="stop a series after a step this slow (s)")
    args = p.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.modes = [m for m in args.modes.split(",") if m]
    args.attn_layers = (list(range(3, args.n_layer, 4)) if args.attn_layers is None
                        else [int(i) for i in args.attn_layers.split(",") if i])
    bad = [m for m in args.models if m not in MODELS] + [m for m in args.modes if m not in ("train", "infer")]
    if bad:
        p.error(f"unknown model or mode: {', '.join(bad)}")

    import torch

    from genomamba.atomic import atomic_write_text

    device = torch.device(args.device)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = sweep(args, device, dtype)
    meta = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine, "host": platform.node(), "torch": torch.__version__,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    atomic_write_text(args.out / "results.json", json.dumps({**meta, "rows": rows}, indent=2) + "\n")
    window = args.attn_window or "full"
    title = (f"d {args.d_model}, {args.n_layer} layers, {args.dtype}, train batch {args.batch}, "
             f"inference chunk {args.chunk}; hybrid: attention at {args.attn_layers}, window {window}; "
             f"{machine}, {meta['date']}")
    plot(rows, args.out / "family_memory.png", title)
    print(markdown(rows, args.models))
    print(f"wrote {args.out / 'results.json'} and {args.out / 'family_memory.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
