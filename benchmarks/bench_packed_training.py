"""Packed vs padded training throughput on a FASTA of many short records (data.pack=true vs false).

Cuts N records of 150-5,000 bp from a genome (`short_reads.write_reads`), builds the training
batches both ways with `GenomeDataModule` (the same random windows: padded, each record a row
padded to `--window`; packed, records end to end in rows of `--window` tokens with seq_idx), and
runs optimizer steps of a random-init CharMambaLM on them: forward with seq_idx, the next-base loss
without targets across a boundary (`same_sequence_targets`) or on N/padding, backward, AdamW. The
batches are built before the clock starts (the loader's time per batch is reported apart); the
first `--warmup` steps are not timed. Reported: real (non-padding) tokens/s, all tokens/s, the
padding fraction, and the packed speed-up in real tokens/s.

    python benchmarks/bench_packed_training.py data/ecoli_mg1655.fa.gz --device cuda --out packed_training_gpu.json
    python benchmarks/bench_packed_training.py data/ecoli_mg1655.fa.gz --random-init 32,2 --window 1024 \
        --batch-size 2 --steps 6 --warmup 1 --n 300
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from short_reads import machine, write_reads


def _batches(reads: Path, pack: bool, args) -> tuple[list[dict], float]:
    from genomamba.data.datamodule import GenomeDataModule

    n = args.batch_size * (args.steps + args.warmup)
    dm = GenomeDataModule([str(reads)], window=args.window, batch_size=args.batch_size, valid_fraction=0.0,
                          samples_per_epoch=n, seed=args.seed, pack=pack, max_n_fraction=1.0)
    t0 = time.perf_counter()
    batches = list(dm.train_dataloader())
    return batches, (time.perf_counter() - t0) / max(len(batches), 1)


def _loss(model, batch):
    import torch.nn.functional as F

    from genomamba.alphabet import PAD, N
    from genomamba.data.packing import same_sequence_targets

    tokens, seq_idx = batch["tokens"].long(), batch.get("seq_idx")
    logits = model(tokens, seq_idx=seq_idx)
    target = tokens[:, 1:]
    weight = ((target != N) & (target != PAD)).float()
    if seq_idx is not None:
        weight = weight * same_sequence_targets(seq_idx)
    nll = F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="none")
    return (nll * weight.reshape(-1)).sum() / weight.sum().clamp(min=1.0)


def _train(model, batches, args) -> float:
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    cuda = args.device.startswith("cuda")
    t0 = None
    for i, batch in enumerate(batches):
        if i == args.warmup:
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        batch = {k: v.to(args.device, non_blocking=True) for k, v in batch.items()}
        with torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16, enabled=cuda):
            loss = _loss(model, batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("genome", help="FASTA to cut the records from (plain, gzip or bgzip)")
    p.add_argument("--random-init", metavar="D,L", default="256,8", help="CharMambaLM d_model D, n_layer L (default 256,8)")
    p.add_argument("--n", type=int, default=2000, help="records (default 2000)")
    p.add_argument("--min-len", type=int, default=150)
    p.add_argument("--max-len", type=int, default=5000)
    p.add_argument("--window", type=int, default=8192, help="data.window: tokens per row (default 8192)")
    p.add_argument("--batch-size", type=int, default=8, help="rows per step (default 8)")
    p.add_argument("--steps", type=int, default=30, help="timed steps (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch intra-op threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)

    import torch

    from genomamba.alphabet import PAD
    from genomamba.models import CharMambaLM, MambaConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    d, n_layer = map(int, args.random_init.split(","))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        reads = write_reads(args.genome, Path(tmp) / "records.fa", args.n, args.min_len, args.max_len, args.seed)
        for label, pack in (("padded", False), ("packed", True)):
            batches, load_s = _batches(reads, pack, args)
            torch.manual_seed(0)
            model = CharMambaLM(MambaConfig(d_model=d, n_layer=n_layer)).to(args.device).train()
            seconds = _train(model, batches, args)
            timed = batches[args.warmup:]
            total = sum(b["tokens"].numel() for b in timed)
            real = sum(int((b["tokens"] != PAD).sum()) for b in timed)
            rows.append(dict(mode=label, steps=len(timed), seconds=seconds, tokens=total, real_tokens=real,
                             real_tokens_per_s=real / seconds, tokens_per_s=total / seconds,
                             pad_fraction=1 - real / total, loader_s_per_batch=load_s))
            print(f"{label:>7}: {real / seconds:>12,.0f} real tokens/s ({total / seconds:,.0f} all), "
                  f"padding {1 - real / total:.1%}, loader {load_s * 1e3:.1f} ms/batch", flush=True)
    base = rows[0]["real_tokens_per_s"]
    lines = ["| mode | steps | real tokens/s | all tokens/s | padding | speed-up (real tokens/s) | loader ms/batch |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['steps']} | {r['real_tokens_per_s']:,.0f} | {r['tokens_per_s']:,.0f} | "
                     f"{r['pad_fraction']:.1%} | {r['real_tokens_per_s'] / base:.2f}x | {r['loader_s_per_batch'] * 1e3:.1f} |")
    cmd = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    meta = dict(command=cmd, machine=machine(args.device), device=args.device, threads=torch.get_num_threads(),
                date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                model=f"random-init CharMambaLM d_model={d} n_layer={n_layer}", window=args.window,
                batch_size=args.batch_size,
                records=f"{args.n} records of {args.min_len}-{args.max_len} bp from {args.genome} (seed {args.seed})")
    print(f"\n{meta['records']}; {meta['model']}; window {args.window} x batch {args.batch_size}; "
          f"{meta['machine']}, {meta['threads']} threads\n")
    print("\n".join(lines))
    if args.out:
        args.out.write_text(json.dumps(dict(meta, rows=rows), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
