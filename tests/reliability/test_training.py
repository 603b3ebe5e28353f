"""Training faults: checkpoints loaded safely, written atomically, resumed faithfully."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from genomamba.cli.train import train
from genomamba.errors import CheckpointError
from genomamba.lit.checkpoints import AtomicCheckpointIO, load_checkpoint
from tests.cli.test_train import SMALL
from tests.helpers import compose_train

EVERY_STEP = ["callbacks.model_checkpoint.monitor=null", "+callbacks.model_checkpoint.every_n_train_steps=1",
              "callbacks.model_checkpoint.save_top_k=-1", "trainer.val_check_interval=100", "validate_at_end=false"]


class _RunsCode:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.fixture
def good_ckpt(tmp_path) -> Path:
    train(compose_train(SMALL + EVERY_STEP + ["trainer.max_steps=1", f"export_dir={tmp_path}/run/model"], tmp_path / "run"))
    return tmp_path / "run" / "checkpoints" / "last.ckpt"


def test_bad_checkpoints_get_one_line_errors(tmp_path, good_ckpt):
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good_ckpt.read_bytes()[: good_ckpt.stat().st_size // 2])
    cases = {"https://example.org/x.ckpt": "remote checkpoints are refused", str(tmp_path / "nope.ckpt"): "not found",
             str(empty): "empty", str(cut): "truncated or corrupt"}
    for path, words in cases.items():
        cfg = compose_train(SMALL + ["trainer.max_steps=2", f"ckpt_path='{path}'"], tmp_path / "resume")
        with pytest.raises(CheckpointError, match=words) as err:
            train(cfg)
        assert "\n" not in str(err.value)


def test_a_checkpoint_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = _RunsCode()
    evil.marker = str(marker)
    torch.save({"state_dict": {}, "x": evil}, tmp_path / "evil.ckpt")
    cfg = compose_train(SMALL + ["trainer.max_steps=2", f"ckpt_path={tmp_path}/evil.ckpt"], tmp_path / "resume")
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint"):
        train(cfg)
    assert not marker.exists()


def test_kill_during_a_cross_filesystem_copy_keeps_last_ckpt(tmp_path, monkeypatch, good_ckpt):
    """Lightning's saver moves a temporary file from TMPDIR, a copy when TMPDIR is on another
    filesystem: a kill mid-copy truncated last.ckpt. Checkpoints are now renamed beside their name."""
    before = load_checkpoint(good_ckpt)["global_step"]

    real_move = shutil.move

    def killed_mid_copy(src, dst, *a, **k):
        if Path(dst).name != "last.ckpt":
            return real_move(src, dst, *a, **k)
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "move", killed_mid_copy)
    cfg = compose_train(SMALL + EVERY_STEP + ["trainer.max_steps=3", f"ckpt_path={good_ckpt}",
                                              f"export_dir={tmp_path}/run/model"], tmp_path / "run")
    try:
        train(cfg)
    except (KeyboardInterrupt, SystemExit):  # Lightning turns the interrupt into exit(1)
        pass
    assert load_checkpoint(good_ckpt)["global_step"] >= before


def test_atomic_checkpoint_io_leaves_the_old_file_when_the_write_dies(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(2)}, "global_step": 1}, target)

    def dies(obj, f, *a, **k):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", dies)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(2)}, "global_step": 2}, target)
    assert load_checkpoint(target)["global_step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
