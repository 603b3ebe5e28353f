"""genomamba-train: Hydra entry point for pretraining (and any LightningModule in conf/module).

    genomamba-train experiment=pretrain_ecoli_tiny
    genomamba-train experiment=pretrain_bacteria_small "data.fastas=[a.fa.gz,b.fa.gz]" trainer.max_steps=2000
    genomamba-train ckpt_path=outputs/.../checkpoints/last.ckpt    # resume, with that run's config
    genomamba-train --help            # config groups and options

`train(cfg)` does the work and returns the final metrics; `main()` is only the Hydra shell.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import hydra
import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from genomamba.atomic import atomic_write_text
from genomamba.cli.train_config import check_config, hydra_choices, resume_config, run_config
from genomamba.errors import GenomambaError
from genomamba.lit.checkpoints import AtomicCheckpointIO, RunConfigCallback, load_checkpoint, restore_best
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
    start_step = 0
    if cfg.get("ckpt_path"):
        ckpt = load_checkpoint(cfg.ckpt_path)  # local, weights-only, complete: or a one-line error
        start_step = int(ckpt.get("global_step", 0))
        cfg = resume_config(cfg, ckpt.get(RunConfigCallback.KEY))
        del ckpt
    check_config(cfg)
    L.seed_everything(cfg.seed, workers=True)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
    # plain containers (not ListConfig) so checkpoints load with torch.load(weights_only=True)
    datamodule = hydra.utils.instantiate(cfg.data, _convert_="all")
    model = hydra.utils.instantiate(cfg.model, _convert_="all")
    module = hydra.utils.instantiate(cfg.module, model=model, _convert_="all")
    callbacks = [*_instantiate_dict(cfg.get("callbacks")), RunConfigCallback(run_config(cfg), hydra_choices())]
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer, callbacks=callbacks, logger=_instantiate_dict(cfg.get("logger")) or False,
        plugins=[AtomicCheckpointIO()],
    )
    log.info("model: %s parameters; output: %s", f"{model.num_parameters:,}", trainer.default_root_dir)
    t0 = time.perf_counter()
    try:
        # AtomicCheckpointIO loads weights-only whatever Lightning asks (works with lightning>=2.2)
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    except SystemExit:  # Lightning turns Ctrl-C into exit(1) after its graceful shutdown
        if trainer.interrupted:
            raise KeyboardInterrupt from None
        raise
    fit_seconds = time.perf_counter() - t0
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    best = restore_best(trainer, module)
    if best:
        metrics["best_model_score"] = best[1]
    if cfg.get("validate_at_end") and not trainer.fast_dev_run:
        results = trainer.validate(module, datamodule=datamodule, verbose=False)
        metrics.update({k: float(v) for k, v in (results[0] if results else {}).items()})
    steps = trainer.global_step
    # this run's steps only (a resumed run did not do the earlier ones), all ranks together
    tokens = (steps - start_step) * datamodule.batch_size * trainer.accumulate_grad_batches * trainer.world_size * datamodule.window
    metrics["fit_seconds"] = fit_seconds
    metrics["train_tokens_per_s"] = tokens / fit_seconds if fit_seconds > 0 else 0.0
    if trainer.is_global_zero and cfg.get("export_dir") and not trainer.fast_dev_run:
        meta = {
            "task_name": cfg.task_name,
            "steps": steps,
            "data": OmegaConf.to_container(cfg.data, resolve=True),
            "window": int(datamodule.window),  # the training window: scoring defaults from it
            "metrics": metrics,
            "checkpoint": best[0] if best else "last",
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        out = module.model.save_pretrained(cfg.export_dir, metadata=meta)
        atomic_write_text(Path(trainer.default_root_dir) / "metrics.json", json.dumps(metrics, indent=2) + "\n")
        log.info("exported model directory: %s", out)
    if trainer.is_global_zero:
        log.info("metrics: %s", {k: round(v, 4) for k, v in metrics.items()})
    return metrics


register_resolvers()


@hydra.main(version_base="1.3", config_path="pkg://genomamba.conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except KeyboardInterrupt:
        print("genomamba-train: interrupted (the last checkpoint is intact; resume with ckpt_path=...)", file=sys.stderr)
        sys.exit(130)
    except GenomambaError as e:
        print(f"genomamba-train: error: {e}", file=sys.stderr)
        sys.exit(1)
    return metrics.get(cfg.get("optimized_metric", "val/bpc"))  # the value a Hydra sweeper optimises


if __name__ == "__main__":
    main()
