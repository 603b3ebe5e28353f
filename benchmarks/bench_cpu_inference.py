"""CPU inference forward: the channel-last numba mixer (`genomamba.ops.mamba_inner_numba`) vs the composed
path (`mamba_inner_ref` over the numba ops: transposes and contiguous copies for the conv and the scan),
each in one pass, and the channel-last mixer chunked as `model(tokens)` runs it by default on a CPU
(`default_inference_chunk_tokens`, 8,192 tokens a chunk, with the carried state).

Times `model(tokens)` under torch.inference_mode for a pretrained model, the paths alternating
(GENOMAMBA_NUMBA_MIXER=0 selects the composed one), and prints the best and every time of each, plus
the largest difference of the logits from the first path's.

    python benchmarks/bench_cpu_inference.py                       # bacteria-small, 1 x 32768, 2 threads
    python benchmarks/bench_cpu_inference.py --length 65536 --repeats 5 --threads 4
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import genomamba

# name -> (GENOMAMBA_NUMBA_MIXER, model.inference_chunk_tokens)
PATHS = {"composed": ("0", None), "channel_last": ("1", None), "channel_last_chunked": ("1", "auto")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="bacteria-small")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--length", type=int, default=32768)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = genomamba.load_model(args.model, device="cpu").float().eval()
    tokens = torch.randint(0, 4, (args.batch, args.length), generator=torch.Generator().manual_seed(0))
    times: dict[str, list[float]] = {k: [] for k in PATHS}
    logits = {}
    with torch.inference_mode():
        for flag, _ in PATHS.values():  # warm-up (numba compile or cache load)
            os.environ["GENOMAMBA_NUMBA_MIXER"] = flag
            model(tokens[:, :1024])
        for _ in range(args.repeats):
            for name, (flag, chunk) in PATHS.items():
                os.environ["GENOMAMBA_NUMBA_MIXER"] = flag
                model.inference_chunk_tokens = chunk
                t = time.perf_counter()
                logits[name] = model(tokens)
                times[name].append(time.perf_counter() - t)
    os.environ.pop("GENOMAMBA_NUMBA_MIXER")
    print(f"{args.model}, {args.batch} x {args.length} tokens, {args.threads} threads, inference_mode")
    first = next(iter(PATHS))
    for name, ts in times.items():
        print(f"{name:>20}: best {min(ts):.3f} s, {args.batch * args.length / min(ts):,.0f} tokens/s "
              f"(all: {', '.join(f'{t:.3f}' for t in ts)}); {min(times[first]) / min(ts):.2f}x {first}'s speed, "
              f"max |logits diff| {(logits[name].float() - logits[first].float()).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
