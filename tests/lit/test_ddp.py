"""Lightning DDP on the CPU (gloo, two processes) through the real genomamba-train command:
distinct shards per rank, the weights of one process over the same global batches, a DDP
checkpoint that resumes under DDP with the same data order, and rank-0-only outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genomamba.models import CharMambaLM

ROOT = Path(__file__).resolve().parents[2]
BASE = ["data=tiny", "model.config.d_model=16", "model.config.n_layer=1", "data.window=32", "module.scheduler=null",
        "trainer.max_steps=4", "trainer.val_check_interval=100", "validate_at_end=false", "logger=csv",
        "callbacks.model_checkpoint.monitor=null", "+callbacks.model_checkpoint.every_n_train_steps=1",
        "callbacks.model_checkpoint.save_top_k=-1", "callbacks.progress_bar=null", "data.max_valid_windows=2"]
DDP = ["trainer.accelerator=cpu", "trainer.devices=2", "+trainer.strategy=ddp"]


def _run(run: Path, *overrides: str) -> subprocess.CompletedProcess:
    probe = [f"+callbacks.probe._target_=tests.lit.ddp_probe.WindowProbe", f"+callbacks.probe.out={run}/probe"]
    cmd = [sys.executable, "-m", "genomamba.cli.train", *BASE, *probe, *overrides, f"hydra.run.dir={run}"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _steps(run: Path, rank: int) -> list[list[str]]:
    return json.loads((run / "probe" / f"rank{rank}.json").read_text())


def _close(a: Path, b: Path) -> None:
    wa, wb = CharMambaLM.from_pretrained(a).state_dict(), CharMambaLM.from_pretrained(b).state_dict()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5, msg=lambda m: f"{k}: {m}")


@pytest.mark.slow  # three training runs, two of them two-process (~60 s): `make test` runs it in its second step
def test_ddp_on_cpu_shards_matches_one_process_and_resumes(tmp_path):
    ddp, one, resumed = tmp_path / "ddp", tmp_path / "one", tmp_path / "resumed"
    proc = _run(ddp, *DDP, "data.batch_size=2")
    r0, r1 = _steps(ddp, 0), _steps(ddp, 1)
    assert len(r0) == len(r1) == 4
    seen0, seen1 = {w for s in r0 for w in s}, {w for s in r1 for w in s}
    assert not seen0 & seen1 and len(seen0) == len(seen1) == 8  # no window twice across ranks

    _run(one, "data.batch_size=4")  # one process, the same global batches
    single = _steps(one, 0)
    assert [sorted(a + b) for a, b in zip(r0, r1)] == [sorted(s) for s in single]
    _close(ddp / "model", one / "model")  # the averaged loss of the ranks is the one-process loss

    step2 = next((ddp / "checkpoints").glob("step000002*.ckpt"))
    _run(resumed, *DDP, "data.batch_size=2", f"ckpt_path={step2}")
    assert _steps(resumed, 0) == r0[2:] and _steps(resumed, 1) == r1[2:]
    _close(resumed / "model", ddp / "model")

    log = proc.stdout + proc.stderr
    assert log.count("exported model directory") == 1 and log.count("metrics: {") == 1
    assert json.loads((ddp / "metrics.json").read_text())["train_tokens_per_s"] > 0
