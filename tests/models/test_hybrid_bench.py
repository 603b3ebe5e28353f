"""benchmarks/bench_family_memory.py on the CPU at tiny sizes: the hybrid's streamed state stays
bounded by its window while the transformer's KV cache grows with L, in results.json and the table."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_family_memory.py"


def test_family_memory_bench_smoke_run(tmp_path, capsys):
    bench = runpy.run_path(str(SCRIPT), run_name="bench_family_memory")
    bench["plot"] = lambda rows, path, title: path.write_bytes(b"")  # matplotlib is slow to load; the rows are the test
    argv = ["--device", "cpu", "--dtype", "fp32", "--models", "transformer,hybrid", "--modes", "infer",
            "--d-model", "16", "--n-layer", "2", "--n-head", "2", "--attn-layers", "1", "--attn-window", "32",
            "--min-len", "64", "--max-len", "128", "--chunk", "48", "--repeats", "1", "--out", str(tmp_path)]
    assert bench["main"](argv) == 0
    rows = json.loads((tmp_path / "results.json").read_text())["rows"]
    state = {(r["model"], r["L"]): r["state_bytes"] for r in rows if r["mode"] == "infer"}
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 4
    # one attention layer of the hybrid keeps 31 positions x (k + v) x 16 channels x fp32, plus a Mamba state
    assert state["hybrid", 64] == state["hybrid", 128] > 31 * 2 * 16 * 4
    assert state["transformer", 128] == 2 * state["transformer", 64] == 2 * (2 * 64 * 2 * 16 * 4)
    assert "| 128 |" in capsys.readouterr().out
