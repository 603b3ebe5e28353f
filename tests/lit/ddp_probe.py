"""A test-only Lightning callback: records, per rank, a hash of every training window it sees."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lightning as L


class WindowProbe(L.Callback):
    def __init__(self, out: str):
        self.out, self.steps = Path(out), []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.steps.append([hashlib.sha1(t.numpy().tobytes()).hexdigest()[:16] for t in batch["tokens"].cpu()])

    def on_train_end(self, trainer, pl_module) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.steps))
