"""genomamba-train's configuration rules: checks with one-line errors naming the key, and the
run configuration a checkpoint stores and a resumed run restores."""

from __future__ import annotations

import logging

from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict

from genomamba.errors import ConfigError
from genomamba.lit.resume import restore_run_config

log = logging.getLogger("genomamba.train")
RUN_KEYS = ("seed", "data", "model", "module", "trainer")  # what a resumed run restores
POSITIVE_INTS = ("data.window", "data.batch_size")
INTS = ("trainer.max_steps", "trainer.max_epochs", "trainer.accumulate_grad_batches")


def check_config(cfg: DictConfig) -> None:
    """One-line errors naming the key: required values left unset, counts that are not integers."""
    missing = sorted(k for k in OmegaConf.missing_keys(cfg) if not k.startswith("hydra"))
    if missing:
        raise ConfigError(f"required value not set: {', '.join(missing)} (give it by override, e.g. {missing[0]}=...)")
    for key in POSITIVE_INTS + INTS:
        value = OmegaConf.select(cfg, key)
        if value is None and key not in POSITIVE_INTS:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or (key in POSITIVE_INTS and value <= 0):
            raise ConfigError(f"{key} must be {'a positive' if key in POSITIVE_INTS else 'an'} integer, got {value!r}")


def run_config(cfg: DictConfig) -> dict:
    """The parts of `cfg` a resumed run restores, as plain containers (the output folder excluded)."""
    def plain(v):  # resolved against the whole cfg (a model may refer to the top-level `backbone`)
        return OmegaConf.to_container(v, resolve=True, throw_on_missing=False) if OmegaConf.is_config(v) else v

    out = {k: plain(cfg[k]) for k in RUN_KEYS if k in cfg}
    out.get("trainer", {}).pop("default_root_dir", None)
    return out


def hydra_choices() -> dict:
    """Config group -> option of this run (e.g. data -> tiny)."""
    return dict(HydraConfig.get().runtime.choices) if HydraConfig.initialized() else {}


def resume_config(cfg: DictConfig, saved: dict | None) -> DictConfig:
    """Today's cfg with the checkpoint's run configuration restored where the user set no override
    (a config group counts as overridden only when its option differs from the run's own)."""
    if not saved:
        log.warning("resume: %s holds no run configuration (older checkpoint): using today's", cfg.ckpt_path)
        return cfg
    choices = hydra_choices()
    task = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    keys = [o.key_or_group for o in OverridesParser.create().parse_overrides(task)]
    overridden = [k for k in keys if k not in choices or saved["choices"].get(k) != choices[k]]
    merged, notes = restore_run_config(run_config(cfg), saved["config"], overridden)
    for note in notes:
        log.warning("resume: %s", note)
    with open_dict(cfg):
        for key, value in merged.items():
            OmegaConf.update(cfg, key, value, merge=True)  # keeps keys not restored (the output folder)
    return cfg
