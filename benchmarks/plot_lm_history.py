"""Plot genomamba against mamba-ssm's MambaLMHeadModel over the issue-10 milestones (BENCHMARKS.md section 7).

Each milestone is one `bench_lm_gpu.py` results.json, with both models measured in the same process (or, where the
json did not come back from the device, the ratio table the benchmark printed, as `FILE.md#SECTION`: the table under
the line `== SECTION ==`; its ratios are rounded to 2 decimals). For every row
(training at B=8 L=16k, B=1 L=131k and B=1 L=2^20; forward only at B=1 L=2^20 and B=64 L=8k), it plots
genomamba's tokens/s and peak memory as ratios to mamba-ssm's from the same run. Runs on other GPUs are compared
only through these ratios.

    python benchmarks/plot_lm_history.py [--out benchmarks/lm_history.png]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
# (label, BENCHMARKS.md section, results file relative to benchmarks/), in the order they were measured
MILESTONES = [
    ("first round", "7 before", "kernels/lm_gpu_before/results.json"),
    ("channel-last mixer", "7", "kernels/lm_gpu_after/results.json"),
    ("fused add+norm", "7c", "results_2026-12-02/lm_gpu_addnorm.json"),
    ("block autograd fn", "7d", "results_2026-12-02/lm_gpu_wps32_ck32.json"),
    ("scan fwd rebuilt", "7e", "results_2026-12-03/lm_gpu_fwd32x8x1_fwps16.json"),
    ("conv bwd", "7f", "results_2026-12-03/lm_gpu_convbwd.json"),
    ("2 channels a lane", "7g", "results_2026-12-07/lm/results.json"),
    ("16-step ckpts", "7h-7j", "results_2026-12-07e/call5/lm_base/results.json"),
    ("fewer instr./step", "7k", "results_2026-12-07e/call6/lm_new2/results.json"),
    ("16 warps a SM", "7l", "results_2026-12-07f/call5/lm_final/results.json"),
    ("pass 1 on parts", "7m", "results_2026-12-07g/call3_lm/results.json"),
    ("64-bit addresses", "7o", "results_2026-12-08/call2_stdout.md#lm new"),
]
ROWS = [("train", 8, 16384, "training B=8 L=16k"), ("train", 1, 131072, "training B=1 L=131k"),
        ("train", 1, 1 << 20, "training B=1 L=2^20"), ("infer", 1, 1 << 20, "forward B=1 L=2^20"),
        ("infer", 64, 8192, "forward B=64 L=8k")]


def printed_ratios(path: Path, section: str) -> dict[tuple, tuple[float, float]]:
    """{(mode, B, L): (speed ratio, memory ratio)} from the genomamba-vs-mamba_ssm rows of the ratio table that
    bench_lm_gpu.py printed, in the first table after the line `== section ==` of a saved stdout."""
    lines = path.read_text().splitlines()
    start = lines.index(f"== {section} ==")
    out = {}
    for line in lines[start + 1:]:
        if line.startswith("=="):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 7 or cells[:2] != ["genomamba", "mamba_ssm"]:
            continue
        m = re.fullmatch(r"(training|forward only), B=(\d+) L=([\d,]+)", cells[2])
        if m:
            mode = "train" if m.group(1) == "training" else "infer"
            out[(mode, int(m.group(2)), int(m.group(3).replace(",", "")))] = (float(cells[5].rstrip("x")),
                                                                           float(cells[6].rstrip("x")))
    return out


def ratios(path: Path) -> dict[tuple, tuple[float, float]]:
    """{(mode, B, L): (speed ratio, memory ratio)} of genomamba / mamba_ssm in one results file (or FILE.md#SECTION)."""
    if "#" in path.name:
        name, section = path.name.split("#", 1)
        return printed_ratios(path.with_name(name), section)
    data = json.loads(path.read_text())
    by = {(r["model"], r["mode"], r["B"], r["L"]): r for r in data["results"] if not r.get("error")}
    out = {}
    for mode, B, L, _ in ROWS:
        g, m = by.get(("genomamba", mode, B, L)), by.get(("mamba_ssm", mode, B, L))
        if g and m:
            out[(mode, B, L)] = (g["tokens_per_s"] / m["tokens_per_s"], g["peak_gib"] / m["peak_gib"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE / "lm_history.png", help="PNG to write")
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = [(label, sec, ratios(HERE / rel)) for label, sec, rel in MILESTONES]
    fig, (ax_s, ax_m) = plt.subplots(1, 2, figsize=(13, 4.8), sharex=True)
    xs = range(len(table))
    for mode, B, L, name in ROWS:
        style = "-o" if mode == "train" else "--s"
        ax_s.plot(xs, [r.get((mode, B, L), (float("nan"),) * 2)[0] for _, _, r in table], style, label=name)
        ax_m.plot(xs, [r.get((mode, B, L), (float("nan"),) * 2)[1] for _, _, r in table], style, label=name)
    ax_s.axhline(1.0, color="grey", lw=0.8)
    ax_s.axhline(1.5, color="tab:red", lw=0.8, ls=":", label="target 1.5x")
    ax_m.axhline(1.0, color="grey", lw=0.8)
    ax_m.axhline(0.7, color="tab:red", lw=0.8, ls=":", label="target 0.7x")
    ax_s.set_ylabel("tokens/s ratio (genomamba / mamba-ssm)")
    ax_m.set_ylabel("peak memory ratio (genomamba / mamba-ssm)")
    for ax in (ax_s, ax_m):
        ax.set_xticks(list(xs), [f"{label}\n({sec})" for label, sec, _ in table], rotation=45, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
    ax_s.legend(fontsize=8, loc="upper left")
    ax_m.legend(fontsize=8, loc="upper right")
    fig.suptitle("genomamba CharMambaLM vs mamba-ssm MambaLMHeadModel (d_model 256, 8 layers; H200 to 7f, H100 after)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    for label, sec, r in table:
        print(f"{sec:9s} {label:20s} " + "  ".join(f"{r[(m, b, l)][0]:.2f}x" if (m, b, l) in r else "  -  "
                                                  for m, b, l, _ in ROWS))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
