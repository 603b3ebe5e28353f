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
from tests.helpers import compose_train, interruptible

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


def _weights(model_dir) -> dict[str, torch.Tensor]:
    from genomamba.models import CharMambaLM

    return CharMambaLM.from_pretrained(model_dir).state_dict()


def test_resume_mid_epoch_reaches_the_weights_of_an_uninterrupted_run(tmp_path):
    """Epochs of 4 steps (8 windows of 2); stopped after step 3 (mid epoch 0) and after step 5
    (mid epoch 1), the resumed runs see the same batches and end on the same weights."""
    epochs = ["data.samples_per_epoch=8", "trainer.max_steps=7"]
    train(compose_train(SMALL + EVERY_STEP + epochs + [f"export_dir={tmp_path}/a/model"], tmp_path / "a"))
    ckpts = {int(p.name[4:10]): p for p in (tmp_path / "a" / "checkpoints").glob("step*.ckpt")}
    assert sorted(ckpts) == list(range(1, 8))
    straight = _weights(tmp_path / "a" / "model")
    for step in (3, 5):
        out = tmp_path / f"resumed{step}"
        train(compose_train(SMALL + EVERY_STEP + epochs + [f"ckpt_path={ckpts[step]}", f"export_dir={out}/model"], out))
        resumed = _weights(out / "model")
        for k in straight:
            torch.testing.assert_close(resumed[k], straight[k], rtol=1e-5, atol=1e-6, msg=lambda m: f"step {step} {k}: {m}")


def test_resume_in_place_appends_logs_and_keeps_one_last_ckpt(tmp_path):
    run = tmp_path / "run"
    args = SMALL + EVERY_STEP + ["trainer.log_every_n_steps=1", f"export_dir={run}/model"]
    train(compose_train(args + ["trainer.max_steps=2"], run))
    csv = run / "csv" / "metrics.csv"
    rows_before = csv.read_text().splitlines()
    train(compose_train(args + ["trainer.max_steps=4", f"ckpt_path={run}/checkpoints/last.ckpt"], run))
    rows_after = csv.read_text().splitlines()
    assert rows_after[: len(rows_before)] == rows_before and len(rows_after) > len(rows_before)
    assert sorted(p.name for p in (run / "checkpoints").glob("last*")) == ["last.ckpt"]
    assert load_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == 4


def test_resume_into_a_copied_folder_and_after_the_old_folder_moved(tmp_path):
    old = tmp_path / "old"
    args = SMALL + ["trainer.val_check_interval=2", "validate_at_end=false"]  # monitored best checkpoint
    train(compose_train(args + ["trainer.max_steps=2", f"export_dir={old}/model"], old))
    copy = tmp_path / "copy"
    shutil.copytree(old, copy)
    shutil.move(old, tmp_path / "moved")
    metrics = train(compose_train(args + ["trainer.max_steps=4", f"ckpt_path={copy}/checkpoints/last.ckpt",
                                          f"export_dir={copy}/model"], copy))
    assert sorted(p.name for p in (copy / "checkpoints").glob("last*")) == ["last.ckpt"]
    assert load_checkpoint(copy / "checkpoints" / "last.ckpt")["global_step"] == 4
    assert (copy / "model" / "config.json").exists() and "val/bpc" in metrics


def test_resume_restores_the_runs_config_unless_overridden(tmp_path, caplog):
    first = tmp_path / "first"
    train(compose_train(SMALL + EVERY_STEP + ["data.window=40", "trainer.max_steps=2", f"export_dir={first}/model"], first))
    again = tmp_path / "again"
    # no window given now (the default is 128): the run's 40 comes back; batch size is overridden
    no_window = [o for o in SMALL if not o.startswith("data.window")]
    cfg = compose_train(no_window + EVERY_STEP + ["trainer.max_steps=3", "data.batch_size=3",
                                              f"ckpt_path={first}/checkpoints/last.ckpt", f"export_dir={again}/model"], again)
    with caplog.at_level("WARNING", logger="genomamba.train"):
        metrics = train(cfg)
    from genomamba.models import CharMambaLM

    meta = CharMambaLM.from_pretrained(again / "model").training_metadata
    assert meta["window"] == 40 and meta["data"]["batch_size"] == 3
    assert "data.window=40 (restored" in caplog.text and "data.batch_size=3 (your override" in caplog.text
    tokens_one_step = 3 * 40  # one step of this run, not three
    assert metrics["train_tokens_per_s"] * metrics["fit_seconds"] == pytest.approx(tokens_one_step)


def test_sigint_exits_130_with_one_line(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "genomamba.cli.train", *SMALL, "trainer.max_steps=100000", "callbacks=none",
           "logger=csv", "trainer.val_check_interval=100000", f"hydra.run.dir={tmp_path}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    deadline = time.time() + 120
    while not (tmp_path / "csv").exists() and time.time() < deadline:  # the logger folder: training started
        time.sleep(0.5)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("genomamba-train: interrupted")
