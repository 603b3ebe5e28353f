"""PretrainLitModule with module.backprop_chunk: the same weights as one-pass training under Lightning's
gradient accumulation and clipping, validation chunk by chunk, and the DDP all-reduce of the chunked
gradient (two gloo processes); bad settings refused."""

from __future__ import annotations

import datetime
import functools
import os

import lightning as L
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

from genomamba.errors import ConfigError
from genomamba.lit import PretrainLitModule
from genomamba.models import CharMambaLM, MambaConfig


def _model(**kw) -> CharMambaLM:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=1, d_state=4, scan_backend="torch", **kw))


def _module(chunk, **kw) -> PretrainLitModule:
    sgd = functools.partial(torch.optim.SGD, lr=0.5)  # SGD: a wrongly scaled gradient shows in the weights
    return PretrainLitModule(_model(), sgd, None, weight_decay=0.0, softmask_weight=0.5, backprop_chunk=chunk, **kw)


def _batches(n: int, L: int = 90) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    return [{"tokens": torch.randint(0, 4, (L,), generator=g), "softmask": torch.rand(L, generator=g) < 0.3}
            for _ in range(n)]


def _fit(module, accumulate, clip):
    trainer = L.Trainer(accelerator="cpu", max_steps=2, accumulate_grad_batches=accumulate, gradient_clip_val=clip,
                        logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(module, DataLoader(_batches(2 * accumulate), batch_size=1))
    return module.model.state_dict()


@pytest.mark.parametrize("clip", [None, 1e-3], ids=["accumulate", "accumulate+clip"])
def test_chunked_training_matches_one_pass(clip):
    want = _fit(_module(None), 2, clip)
    got = _fit(_module(32), 2, clip)
    moved = max((want[k] - _model().state_dict()[k]).abs().max().item() for k in want)
    assert moved > 1e-4  # training did change the weights
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=1e-6, msg=lambda m, k=k: f"{k}: {m}")


def test_validation_runs_chunk_by_chunk_with_the_one_pass_loss():
    batch = {k: v[None] for k, v in _batches(1)[0].items()}
    with torch.no_grad():
        loss, count = _module(25)._step(batch)
        loss_ref, count_ref = _module(None)._step(batch)
    torch.testing.assert_close(loss, loss_ref, rtol=1e-5, atol=1e-6)
    assert count == count_ref


def test_bad_settings_are_refused():
    sgd = functools.partial(torch.optim.SGD, lr=0.1)
    with pytest.raises(ConfigError, match="needs a causal model"):
        PretrainLitModule(_model(bidirectional=True), sgd, backprop_chunk=64)
    with pytest.raises(ConfigError, match="positive integer"):
        PretrainLitModule(_model(), sgd, backprop_chunk=0)
    with pytest.raises(ConfigError, match="needs module.backprop_chunk"):
        PretrainLitModule(_model(), sgd, backprop_truncated=True)


class _TrainStep(torch.nn.Module):
    """What Lightning's DDP wraps: a module whose forward is the training step's loss."""

    def __init__(self, lit: PretrainLitModule):
        super().__init__()
        self.lit = lit

    def forward(self, batch: dict) -> torch.Tensor:
        return self.lit._step(batch, train=True)[0]


def _ddp_worker(rank: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    # a rank that never arrives fails the test in 2 minutes instead of blocking the suite
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2, timeout=datetime.timedelta(seconds=120))
    lit = _module(32)
    ddp = torch.nn.parallel.DistributedDataParallel(_TrainStep(lit))
    batch = {k: v[None] for k, v in _batches(2)[rank].items()}
    ddp(batch).backward()
    if rank == 0:
        torch.save({n: p.grad for n, p in lit.model.named_parameters()}, out)
    # Leave without tearing down: in torch 2.13 freeing the DDP reducer can deadlock (the main thread joins
    # gloo's worker thread while holding the GIL; that thread, freeing its last work item, waits for the GIL).
    # The all-reduce has finished once backward() returns, and the parent only reads the saved gradients.
    os._exit(0)


@pytest.mark.slow  # two spawned processes: ~15 s on a loaded CPU
def test_ddp_all_reduces_the_chunked_gradient(tmp_path):
    out = tmp_path / "grads.pt"
    mp.spawn(_ddp_worker, args=(f"file://{tmp_path / 'init'}", str(out)), nprocs=2, join=True)
    got = torch.load(out)
    lit = _module(None)  # the mean over the two ranks' one-pass gradients
    for b in _batches(2):
        (lit._step({k: v[None] for k, v in b.items()}, train=True)[0] / 2).backward()
    for n, p in lit.model.named_parameters():
        torch.testing.assert_close(got[n], p.grad, rtol=1e-4, atol=1e-6, msg=lambda m, n=n: f"{n}: {m}")
