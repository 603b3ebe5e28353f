"""Generation benchmark: genomamba's Decoder vs mamba-ssm's `MambaLMHeadModel.generate(cg=True)`, same run.

Same size and the same weights for both (d_model 256, 8 layers, d_state 16, d_conv 4, expand 2,
genomamba's 8-token vocabulary): the mamba-ssm model is built first (fused add-norm, fp32
residual: its fast path) and its weights are copied into a CharMambaLM. Each row prefills a
`--prompt-len` prompt (the same prompt in every row of the batch) and generates `--new` tokens;
the time is the median of `--repeats` calls after one warm-up call (which, for both, captures the
CUDA graphs: mamba-ssm caches them on the model, genomamba on the Decoder), so capture is not
timed. steps/s = new tokens / time (the batch-1 figure), tokens/s = batch * new / time. Greedy
rows also report how many of the first 64 tokens agree between the two (same weights; bf16
rounding lets long greedy runs drift apart). genomamba runs with its fused decode step (`Decoder(fused=True)`:
add + norm + next projection, and sampling, in one launch each) and without it (`fused=False`, the
step before the fusion), side by side (`--fused on,off`); each row's `fused` field says which. `--int8` adds rows for the same model with INT8
weights (`genomamba.models.quantize`). mamba-ssm is optional (skipped where it is not installed,
as on the CPU). Issue 12 parts 3 and 5.

    python benchmarks/bench_generate.py --out results/generate.json
    python benchmarks/bench_generate.py --quick --device cpu --out /tmp/gen.json   # tiny CPU smoke run
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import statistics
import time
from pathlib import Path

import torch

D_MODEL, N_LAYER, D_STATE = 256, 8, 16
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
SAMPLING = {  # ours (temperature, top_k, top_p) and mamba-ssm's generate() keywords
    "greedy": ((0.0, 0, 1.0), {"top_k": 1}),
    "sample": ((1.0, 0, 1.0), {"top_k": 0, "top_p": 0.0, "temperature": 1.0}),
}


def build_pair(device, dtype, d_model: int, n_layer: int, with_mamba_ssm: bool):
    """(CharMambaLM, MambaLMHeadModel or None) holding the same weights."""
    from genomamba.alphabet import VOCAB_SIZE
    from genomamba.models import CharMambaLM, MambaConfig
    from genomamba.models.hf_convert import rename_to_genomamba

    torch.manual_seed(0)
    ours = CharMambaLM(MambaConfig(d_model=d_model, n_layer=n_layer, d_state=D_STATE, vocab_size=VOCAB_SIZE))
    theirs = None
    if with_mamba_ssm:
        from mamba_ssm.models.config_mamba import MambaConfig as SsmConfig
        from mamba_ssm.models.mixer_seq_simple import MambaLMHeadModel

        cfg = SsmConfig(d_model=d_model, n_layer=n_layer, vocab_size=VOCAB_SIZE,
                        ssm_cfg={"layer": "Mamba1", "d_state": D_STATE}, rms_norm=True, residual_in_fp32=True,
                        fused_add_norm=True, pad_vocab_size_multiple=8)
        theirs = MambaLMHeadModel(cfg, device=device, dtype=dtype).eval()
        ours.load_state_dict(rename_to_genomamba({k: v.float().cpu() for k, v in theirs.state_dict().items()},
                                                 "mamba_ssm"))
    return ours.to(device=device, dtype=dtype).eval(), theirs


def timed(fn, repeats: int, device) -> tuple[float, object]:
    """(median seconds, last result) of `fn` after one warm-up call."""
    out = fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(args) -> list[dict]:
    from genomamba.models.generation import Decoder, Sampling
    from genomamba.models.quantize import quantize_int8, weight_bytes

    device, dtype = torch.device(args.device), DTYPES[args.dtype]
    with_ssm = "mamba_ssm" in args.models and device.type == "cuda" and importlib.util.find_spec("mamba_ssm") is not None
    if "mamba_ssm" in args.models and not with_ssm:
        print("mamba-ssm not installed (or not on CUDA): its rows are skipped")
    d_model, n_layer = (32, 2) if args.quick else (D_MODEL, N_LAYER)
    ours, theirs = build_pair(device, dtype, d_model, n_layer, with_ssm)
    models = [("", ours)]
    if args.int8:
        models.append((" int8", quantize_int8(copy.deepcopy(ours))))
    prompt = torch.randint(0, 4, (args.prompt_len,), generator=torch.Generator().manual_seed(1)).to(device)
    rows = []
    for mode in args.sampling:
        (temperature, top_k, top_p), ssm_kw = SAMPLING[mode]
        for batch in args.batches:
            base = {"batch": batch, "dtype": args.dtype, "sampling": mode, "prompt_len": args.prompt_len,
                    "new": args.new, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
            ref_tokens, ssm_time = None, None
            if theirs is not None:
                ids = prompt[None].expand(batch, -1).contiguous()

                def ssm_call(ids=ids, ssm_kw=ssm_kw):
                    with torch.inference_mode():
                        return theirs.generate(input_ids=ids, max_length=args.prompt_len + args.new, cg=True, **ssm_kw)

                # a graph cache captured at another batch size is not reused (mamba-ssm keys it loosely)
                theirs.__dict__.pop("_decoding_cache", None)
                try:
                    ssm_time, seqs = timed(ssm_call, args.repeats, device)
                except RuntimeError as e:  # recorded, and our rows still run
                    print(f"mamba_ssm generate failed at batch {batch}, {mode}: {str(e)[:200]}")
                    rows.append(dict(base, model="mamba_ssm generate(cg=True)", time_s=float("nan"),
                                     weight_mib=weight_bytes(theirs) / 2**20, error=str(e)[:200]))
                else:
                    assert seqs.shape[1] == args.prompt_len + args.new, seqs.shape
                    ref_tokens = seqs[0, args.prompt_len:].cpu()
                    rows.append(dict(base, model="mamba_ssm generate(cg=True)", time_s=ssm_time,
                                     weight_mib=weight_bytes(theirs) / 2**20))
            variants = [(m, fused, spg, graph) for m in models for fused in args.fused for spg in args.steps_per_graph
                        for graph in ([True, False] if args.eager and device.type == "cuda" else [None])]
            for (label, model), fused, spg, graph in variants:
                dec = Decoder(model, batch, Sampling(temperature, top_k, top_p), steps_per_graph=spg, cuda_graph=graph,
                              fused=fused == "on")
                if fused == "on" and not dec.fused and "off" in args.fused:
                    continue  # a model the fused step does not take (INT8): its unfused row is the one
                gen = torch.Generator(device=device).manual_seed(0)
                t, tokens = timed(lambda dec=dec, gen=gen: dec.generate(prompt, args.new, gen), args.repeats, device)
                mode_name = "CUDA graph" if dec.graph is not None else "eager"
                step = "fused" if dec.fused else "unfused"
                row = dict(base, model=f"genomamba{label} Decoder ({step}, steps_per_graph={spg}, {mode_name})",
                           fused=dec.fused, time_s=t, weight_mib=weight_bytes(model) / 2**20)
                if ssm_time is not None:
                    row["speedup_vs_mamba_ssm"] = ssm_time / t
                if mode == "greedy" and ref_tokens is not None:
                    row["greedy_agree_first64"] = int((torch.as_tensor(tokens[0, :64]).long() == ref_tokens[:64]).sum())
                rows.append(row)
    for r in rows:
        r["steps_per_s"] = r["new"] / r["time_s"]
        r["tokens_per_s"] = r["batch"] * r["new"] / r["time_s"]
    return rows


def table(rows: list[dict]) -> str:
    lines = [("| model | sampling | batch | dtype | weights (MiB) | time (s) | steps/s | tokens/s | vs mamba-ssm | "
              "greedy agree /64 |"), "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        speed = f"{r['speedup_vs_mamba_ssm']:.2f}x" if "speedup_vs_mamba_ssm" in r else ""
        lines.append(f"| {r['model']} | {r['sampling']} | {r['batch']} | {r['dtype']} | {r['weight_mib']:.2f} | {r['time_s']:.3f} | "
                     f"{r['steps_per_s']:,.0f} | {r['tokens_per_s']:,.0f} | {speed} | {r.get('greedy_agree_first64', '')} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON file for the rows")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=list(DTYPES), default="bf16")
    p.add_argument("--models", default="genomamba,mamba_ssm", type=lambda s: s.split(","))
    p.add_argument("--batches", default="1,64", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--sampling", default="greedy,sample", type=lambda s: s.split(","),
                   help=f"comma-separated, from {list(SAMPLING)}")
    p.add_argument("--prompt-len", type=int, default=1000)
    p.add_argument("--new", type=int, default=2048, help="tokens generated after the prompt")
    p.add_argument("--steps-per-graph", default="32", type=lambda s: [int(x) for x in s.split(",")],
                   help="genomamba rows, one per value (e.g. 1,8,32)")
    p.add_argument("--fused", default="on,off", type=lambda s: s.split(","),
                   help="genomamba rows with the fused decode step (on), the unfused one (off), or both")
    p.add_argument("--eager", action="store_true", help="also time genomamba's plain loop on CUDA (no graph)")
    p.add_argument("--int8", action="store_true", help="also time genomamba with INT8 weights (quantize_int8)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="tiny model (d_model 32, 2 layers): a smoke run")
    args = p.parse_args(argv)
    if args.quick:
        args.prompt_len, args.new, args.repeats = min(args.prompt_len, 50), min(args.new, 40), 1
        args.batches = [min(b, 4) for b in args.batches]
    rows = run(args)
    print(table(rows))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
