"""Helpers for tests that compose the real Hydra config."""

from __future__ import annotations

import signal

from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from genomamba.cli.train import register_resolvers


def compose_train(overrides: list[str], output_dir: Path, config_name: str = "train") -> DictConfig:
    """Compose conf/train.yaml as `genomamba-train` would, with its output dir set to output_dir."""
    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="genomamba.conf", version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir)
        cfg.hydra.job.num = 0
    HydraConfig.instance().set_config(cfg)
    return cfg


def interruptible() -> None:
    """`preexec_fn` for a subprocess a test interrupts: SIGINT back to its default, so the child's Python turns it
    into KeyboardInterrupt even where the test runner ignores SIGINT (a job started in the background with `&`
    from a script: its children inherit the ignored signal, and the interrupt would never arrive)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
