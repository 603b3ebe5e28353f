"""VariantEffectLitModule through the real CLI path: `train(compose_train([experiment=vep_*, ...]))`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from genomamba.cli.train import train
from genomamba.data.variant_inputs import collate_inputs
from genomamba.data.labelled_variants import class_weights
from genomamba.lit.variant_effect import classification_metrics
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.models.variant_effect import VariantEffectModel
from tests.helpers import compose_train

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY = [f"data.vcf={FIXTURES / 'tiny_labelled.vcf'}", f"data.fasta={FIXTURES / 'tiny.fa'}", "data.window=32",
        "data.batch_size=4", "data.n_folds=2", "data.block_size=50", "data.num_workers=0"]


@pytest.fixture
def backbone_dir(tmp_path) -> Path:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2, scan_backend="ref")).save_pretrained(tmp_path / "backbone")


@pytest.mark.parametrize("experiment", ["vep_brca1", "vep_ecoli_consequence"])
def test_head_trains_from_the_cli_path(experiment, backbone_dir, tmp_path):
    out = tmp_path / "run"
    cfg = compose_train([f"experiment={experiment}", f"backbone={backbone_dir}", "trainer=cpu", "logger=csv",
                         "callbacks=none", "trainer.max_steps=3", *TINY], out)
    metrics = train(cfg)
    for key in ("train/loss", "val/loss", "val/acc", "val/auroc", "val/auprc"):
        assert key in metrics, f"{key} not logged: {sorted(metrics)}"
    assert math.isfinite(metrics["train/loss"]) and 0.0 <= metrics["val/auroc"] <= 1.0
    head = VariantEffectModel.from_pretrained(out / "model")
    assert head.config.num_classes == (2 if experiment == "vep_brca1" else 5)
    assert head.config.window == 32


def test_checkpoint_monitors_auroc_and_holds_no_partials(backbone_dir, tmp_path):
    out = tmp_path / "run"
    cfg = compose_train(["experiment=vep_brca1", f"backbone={backbone_dir}", "trainer=cpu", "logger=csv",
                         "trainer.max_epochs=1", "validate_at_end=false", "~callbacks.progress_bar", *TINY], out)
    train(cfg)
    ckpts = sorted((out / "checkpoints").glob("epoch*-auroc*.ckpt"))
    assert ckpts, list((out / "checkpoints").iterdir())
    ckpt = torch.load(ckpts[0], map_location="cpu", weights_only=True)  # no pickled partials
    assert "optimizer" not in ckpt["hyper_parameters"] and ckpt["hyper_parameters"]["class_weights"] == "auto"
    assert "class_weight" in ckpt["state_dict"]


def test_class_weights_come_from_the_train_split(backbone_dir, tmp_path):
    import hydra

    cfg = compose_train(["experiment=vep_brca1", f"backbone={backbone_dir}", *TINY], tmp_path)
    dm = hydra.utils.instantiate(cfg.data, _convert_="all")
    dm.setup()
    train_labels = [v.label for v in dm._train_ds.variants]
    assert dm.class_weights == pytest.approx(class_weights(train_labels, 2))
    valid_blocks = {(v.chrom, v.start // 50) for v in dm._valid_ds.variants}
    assert valid_blocks.isdisjoint({(v.chrom, v.start // 50) for v in dm._train_ds.variants})
    batch = collate_inputs([dm._train_ds[i] for i in range(3)])
    assert batch["ref"].shape[:2] == (3, 2) and batch["label"].shape == (3,)


def test_classification_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    p1 = np.clip(y * 0.3 + rng.random(50) * 0.7, 0, 1)
    probs = np.stack([1 - p1, p1], 1)
    m = classification_metrics(y, probs)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p1))
    assert m["auprc"] == pytest.approx(average_precision_score(y, p1))
    y3 = rng.integers(0, 3, 60)
    probs3 = rng.dirichlet(np.ones(3), 60)
    assert classification_metrics(y3, probs3)["auroc"] == pytest.approx(roc_auc_score(y3, probs3, multi_class="ovr"))
    assert math.isnan(classification_metrics(np.zeros(5, int), probs[:5])["auroc"])  # undefined, not 0.5
