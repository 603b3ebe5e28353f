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
