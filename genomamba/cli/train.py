"""genomamba-train: Hydra entry point for pretraining (and any LightningModule in conf/module).

    genomamba-train experiment=pretrain_ecoli_tiny
    genomamba-train experiment=pretrain_bacteria_small "data.fastas=[a.fa.gz,b.fa.gz]" trainer.max_steps=2000
    genomamba-train --help            # config groups and options

`train(cfg)` does the work and returns the final metrics; `main()` is only the Hydra shell.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from genomamba.paths import bundled_file

log = logging.getLogger("genomamba.train")


def register_resolvers() -> None:
    """`${genomamba_data:NAME}`: absolute path of a genome bundled with the package."""
    if not OmegaConf.has_resolver("genomamba_data"):
        OmegaConf.register_new_resolver("genomamba_data", bundled_file)


def _instantiate_dict(cfg: DictConfig | None) -> list:
    return [hydra.utils.instantiate(c) for c in (cfg or {}).values() if c is not None and "_target_" in c]


def train(cfg: DictConfig) -> dict[str, float]:
    """Build data, model, module and trainer from `cfg`, fit, export the model directory.

    Returns the metrics the trainer logged last (e.g. `val/bpc`), plus tokens per second.
    """
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
    # plain containers (not ListConfig) so checkpoints load with torch.load(weights_only=True)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    model = hydra.utils.instantiate(cfg.model, _convert_="all")
    module = hydra.utils.instantiate(cfg.module, model=model, _convert_="all")
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=_instantiate_dict(cfg.get("callbacks")), logger=_instantiate_dict(cfg.get("logger")) or False
    )
    log.info("model: %s parameters; output: %s", f"{model.num_parameters:,}", trainer.default_root_dir)
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    fit_seconds = time.perf_counter() - t0
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    best = _restore_best(trainer, module)
    if best:
        metrics["best_model_score"] = best[1]
    if cfg.get("validate_at_end") and not trainer.fast_dev_run:
        results = trainer.validate(module, datamodule=datamodule, verbose=False)
        metrics.update({k: float(v) for k, v in (results[0] if results else {}).items()})
    steps = trainer.global_step
    tokens = steps * datamodule.batch_size * trainer.accumulate_grad_batches * trainer.world_size * datamodule.window
    metrics["fit_seconds"] = fit_seconds
    metrics["train_tokens_per_s"] = tokens / fit_seconds if fit_seconds > 0 else 0.0
    if trainer.is_global_zero and cfg.get("export_dir") and not trainer.fast_dev_run:
        meta = {
            "task_name": cfg.task_name,
            "steps": steps,
            "data": OmegaConf.to_container(cfg.data, resolve=True),
            "metrics": metrics,
            "checkpoint": best[0] if best else "last",
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        out = module.model.save_pretrained(cfg.export_dir, metadata=meta)
        (Path(trainer.default_root_dir) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        log.info("exported model directory: %s", out)
    log.info("metrics: %s", {k: round(v, 4) for k, v in metrics.items()})
    return metrics


def _restore_best(trainer: L.Trainer, module: L.LightningModule) -> tuple[str, float] | None:
    """Load the weights of the best checkpoint by the monitored metric (e.g. lowest val/bpc), so the
    exported model is the one that generalised best, not the last (possibly overfitted) one."""
    callback = trainer.checkpoint_callback
    path = getattr(callback, "best_model_path", "") if callback is not None else ""
    if not path or getattr(callback, "monitor", None) is None:
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    module.load_state_dict(state)
    log.info("exporting the best checkpoint %s (%s = %.4f)", path, callback.monitor, float(callback.best_model_score))
    return path, float(callback.best_model_score)


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://genomamba.conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    return metrics.get(cfg.get("optimized_metric", "val/bpc"))  # the value a Hydra sweeper optimises


if __name__ == "__main__":
    main()
