"""genomamba-train end to end on the bundled phage: export, reload, and resume."""

from __future__ import annotations

import torch

from genomamba.cli.train import train
from genomamba.models import CharMambaLM
from tests.helpers import compose_train

SMALL = ["data=tiny", "model=char_mamba_tiny", "model.config.d_model=16", "model.config.n_layer=2",
         "data.window=48", "data.batch_size=2", "logger=csv", "module.scheduler=null"]


def test_fast_dev_run(tmp_path):
    metrics = train(compose_train(SMALL + ["debug=fast_dev_run"], tmp_path))
    assert 1.0 < metrics["train/bpc"] < 4.0


def test_train_exports_a_loadable_model_directory(tmp_path):
    cfg = compose_train(SMALL + ["trainer.max_steps=3", "trainer.val_check_interval=3", f"export_dir={tmp_path}/model"], tmp_path)
    metrics = train(cfg)
    assert "val/bpc" in metrics and metrics["train_tokens_per_s"] > 0
    model = CharMambaLM.from_pretrained(tmp_path / "model")
    assert model.training_metadata["steps"] == 3
    assert model.training_metadata["window"] == 48  # read by scoring to default its window
    assert model(torch.randint(0, 4, (1, 10))).shape == (1, 10, 8)
    assert (tmp_path / "csv" / "metrics.csv").exists()


def _final_weights(path) -> dict[str, torch.Tensor]:
    return CharMambaLM.from_pretrained(path).state_dict()


def test_resumed_run_continues_with_the_same_data_order(tmp_path):
    ckpt = ["callbacks.model_checkpoint.monitor=null", "+callbacks.model_checkpoint.every_n_train_steps=2",
            "callbacks.model_checkpoint.save_top_k=-1", "trainer.val_check_interval=100", "validate_at_end=false"]
    straight = compose_train(SMALL + ckpt + ["trainer.max_steps=4", f"export_dir={tmp_path}/a/model"], tmp_path / "a")
    train(straight)
    first = compose_train(SMALL + ckpt + ["trainer.max_steps=2", f"export_dir={tmp_path}/b/model"], tmp_path / "b")
    train(first)
    last = tmp_path / "b" / "checkpoints" / "last.ckpt"
    assert last.exists()
    resumed = compose_train(SMALL + ckpt + ["trainer.max_steps=4", f"ckpt_path={last}", f"export_dir={tmp_path}/c/model"], tmp_path / "c")
    train(resumed)
    a, c = _final_weights(tmp_path / "a" / "model"), _final_weights(tmp_path / "c" / "model")
    b = _final_weights(tmp_path / "b" / "model")
    assert any(not torch.equal(a[k], b[k]) for k in a)  # 2 more steps did change the weights
    for k in a:
        torch.testing.assert_close(c[k], a[k], rtol=1e-5, atol=1e-6, msg=lambda m: f"{k}: {m}")


def test_bad_counts_and_missing_genome_lists_name_the_key(tmp_path):
    import pytest

    from genomamba.errors import ConfigError

    cases = {"data.window=0": "data.window", "data.batch_size=-1": "data.batch_size",
             "trainer.max_steps=abc": "trainer.max_steps"}
    for override, key in cases.items():
        with pytest.raises(ConfigError, match=key):
            train(compose_train(SMALL + [override], tmp_path))
    for overrides in (["experiment=pretrain_bacteria_small"], ["data=genomes"]):
        with pytest.raises(ConfigError, match=r"required value not set: data\.fastas, data\.valid_fastas"):
            train(compose_train(overrides, tmp_path))


def test_a_run_without_validation_data_says_so(tmp_path, caplog):
    with caplog.at_level("WARNING"):
        train(compose_train(SMALL + ["data.valid_fraction=0.0", "trainer.max_steps=1", "validate_at_end=false",
                                     f"export_dir={tmp_path}/model"], tmp_path))
    assert "NO VALIDATION DATA" in caplog.text


def test_help_names_the_command():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "genomamba.cli.train", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("genomamba-train is powered by Hydra")
