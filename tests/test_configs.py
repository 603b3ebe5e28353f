"""Every config group option instantiates; every experiment composes and runs one step."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch

from genomamba.cli.train import train
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.models.config import ConfigDictMixin
from genomamba.paths import config_dir
from tests.helpers import compose_train

CONF = config_dir()
FIXTURE = str(Path(__file__).parent / "fixtures" / "tiny.fa")
LABELLED = str(Path(__file__).parent / "fixtures" / "tiny_labelled.vcf")
# variant-effect data (conf/data/variants.yaml) on the labelled fixture: 2 folds of 50-bp blocks
VARIANT_DATA = [f"data.vcf={LABELLED}", f"data.fasta={FIXTURE}", "data.n_folds=2", "data.block_size=50"]


def _tiny_backbone(path: Path) -> str:
    """A random CharMambaLM model directory: the `backbone` of variant-effect heads."""
    torch.manual_seed(0)
    return str(CharMambaLM(MambaConfig(d_model=16, n_layer=2, scan_backend="ref")).save_pretrained(path))


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("option", _options("data"))
def test_data_options_instantiate(option, tmp_path):
    overrides = [f"data={option}"]
    if option == "genomes":
        overrides += [f"data.fastas=[{FIXTURE}]", f"data.valid_fastas=[{FIXTURE}]"]
    if option == "variants":
        overrides += VARIANT_DATA
    cfg = compose_train(overrides, tmp_path)
    dm = hydra.utils.instantiate(cfg.data)
    dm.setup()
    assert len(dm._valid_ds) > 0


@pytest.mark.parametrize("option", _options("model"))
def test_model_options_instantiate(option, tmp_path):
    if option == "variant_head":  # a head on a backbone directory: ref/alt windows [B, 2, L] -> logits [B, C]
        cfg = compose_train([f"model={option}", f"+backbone={_tiny_backbone(tmp_path / 'backbone')}"], tmp_path)
        model = hydra.utils.instantiate(cfg.model)
        windows, pos = torch.randint(0, 4, (1, 2, 9)), torch.zeros(1, 2, dtype=torch.long)
        assert model(windows, windows, pos, pos).shape == (1, cfg.model.config.num_classes)
        return
    model = hydra.utils.instantiate(compose_train([f"model={option}"], tmp_path).model)
    assert model(torch.randint(0, 4, (1, 9))).shape == (1, 9, 8)


@pytest.mark.parametrize("option", _options("model"))
def test_model_options_nest_a_typed_config(option, tmp_path):
    # one way to wire a model: `_target_` the model, `config._target_` its config dataclass
    overrides = [f"model={option}"] + (["+backbone=unused"] if option == "variant_head" else [])
    node = compose_train(overrides, tmp_path).model
    config = hydra.utils.instantiate(node.config)
    assert isinstance(config, ConfigDictMixin), type(config)
    assert type(config).from_dict(config.to_dict()) == config


@pytest.mark.parametrize("group", ["module", "trainer", "callbacks", "logger"])
def test_other_groups_instantiate(group, tmp_path):
    for option in _options(group):
        cfg = compose_train([f"{group}={option}"], tmp_path)
        node = cfg[group]
        if group == "module":
            hydra.utils.instantiate(node, model=hydra.utils.instantiate(cfg.model))
        elif group == "trainer":
            if node.accelerator == "gpu" and not torch.cuda.is_available():
                continue  # composes; instantiating needs a GPU
            hydra.utils.instantiate(node)
        else:
            for sub in node.values():
                hydra.utils.instantiate(sub)


@pytest.mark.parametrize("experiment", _options("experiment"))
def test_experiments_compose_and_run_one_step(experiment, tmp_path):
    cfg = compose_train([f"experiment={experiment}", "trainer=cpu", "debug=fast_dev_run", "logger=csv"], tmp_path)
    assert cfg.task_name == experiment
    for key in ("train_bed", "valid_bed"):  # split files, relative to the repository root, are shipped
        bed = cfg.data.get(key)
        assert bed is None or (Path(__file__).resolve().parents[1] / bed).is_file(), f"{experiment}: data.{key} {bed}"
    # one step on the tiny fixture at a small window, whatever the experiment's data size
    if experiment.startswith("vep_"):  # variant-effect heads: labelled variants and a backbone directory
        data = [f"backbone={_tiny_backbone(tmp_path / 'backbone')}", *VARIANT_DATA]
    else:
        data = [f"data.fastas=[{FIXTURE}]", "data.valid_fastas=[]", "data.valid_fraction=0.2",
                "data.train_bed=null", "data.valid_bed=null"]
    cfg = compose_train(
        [f"experiment={experiment}", "trainer=cpu", "debug=fast_dev_run", "logger=csv", *data, "data.window=32",
         "data.batch_size=2", "data.num_workers=0"],
        tmp_path,
    )
    metrics = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
