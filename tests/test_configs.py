"""Every config group option instantiates; every experiment composes and runs one step."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
import torch

from genomamba.cli.train import train
from genomamba.paths import config_dir
from tests.helpers import compose_train

CONF = config_dir()
FIXTURE = str(Path(__file__).parent / "fixtures" / "tiny.fa")


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("option", _options("data"))
def test_data_options_instantiate(option, tmp_path):
    overrides = [f"data={option}"]
    if option == "genomes":
        overrides += [f"data.fastas=[{FIXTURE}]", f"data.valid_fastas=[{FIXTURE}]"]
    cfg = compose_train(overrides, tmp_path)
    dm = hydra.utils.instantiate(cfg.data)
    dm.setup()
    assert len(dm._valid_ds) > 0


@pytest.mark.parametrize("option", _options("model"))
def test_model_options_instantiate(option, tmp_path):
    model = hydra.utils.instantiate(compose_train([f"model={option}"], tmp_path).model)
    assert model(torch.randint(0, 4, (1, 9))).shape == (1, 9, 8)


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
    # one step on the tiny fixture at a small window, whatever the experiment's data size
    cfg = compose_train(
        [f"experiment={experiment}", "trainer=cpu", "debug=fast_dev_run", "logger=csv",
         f"data.fastas=[{FIXTURE}]", "data.valid_fastas=[]", "data.valid_fraction=0.2", "data.window=32",
         "data.batch_size=2", "data.num_workers=0"],
        tmp_path,
    )
    metrics = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["train/loss"]))
