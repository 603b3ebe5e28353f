"""The RC-equivariant (RCPS) BiMamba: logits for rc(x) are the L-flipped, complement-permuted logits
for x, exactly, on random inputs; it saves, loads and trains like any other model."""

from __future__ import annotations

import pytest
import torch

from genomamba.alphabet import reverse_complement
from genomamba.cli.train import train
from genomamba.errors import ConfigError
from genomamba.models import CharMambaLM, MambaConfig
from genomamba.modules.rcps import complement_index
from tests.helpers import compose_train


def _model(rc_equivariant: bool = True) -> CharMambaLM:
    torch.manual_seed(0)
    config = MambaConfig(d_model=16, n_layer=2, d_state=4, bidirectional=True,
                         rc_equivariant=rc_equivariant, scan_backend="torch")
    return CharMambaLM(config).eval()


def _equivariance_gap(model: CharMambaLM) -> float:
    """max |logits(rc(x)) - complement_permute(flip(logits(x)))| on random A/C/G/T/N, B=3, odd L."""
    torch.manual_seed(1)
    x = torch.randint(0, 5, (3, 37))
    with torch.no_grad():
        logits, logits_rc = model(x), model(reverse_complement(x))
    expected = logits.flip(1)[..., complement_index(logits.shape[-1])]
    return (logits_rc - expected).abs().max().item()


def test_logits_of_the_reverse_complement_are_the_permuted_flipped_logits():
    model = _model()
    assert _equivariance_gap(model) < 1e-5
    # the check has teeth: a plain bidirectional model of the same shape fails it
    assert _equivariance_gap(_model(rc_equivariant=False)) > 1e-3


def test_same_parameter_count_and_hidden_width_as_the_plain_model():
    model, plain = _model(), _model(rc_equivariant=False)
    assert model.num_parameters < plain.num_parameters  # each strand has d_model / 2 channels
    h, _ = model.hidden_states(torch.randint(0, 5, (2, 9)))
    assert h.shape == (2, 9, 16)


def test_save_and_load_round_trip(tmp_path):
    model = _model()
    x = torch.randint(0, 5, (2, 21))
    loaded = CharMambaLM.from_pretrained(model.save_pretrained(tmp_path / "m"))
    assert loaded.config.rc_equivariant
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("kw, key", [({"bidirectional": False}, "rc_equivariant"), ({"d_model": 15}, "d_model")])
def test_bad_configs_name_the_key(kw, key):
    with pytest.raises(ConfigError, match=f"MambaConfig.{key}"):
        MambaConfig(**{"d_model": 16, "bidirectional": True, "rc_equivariant": True, **kw})


def test_one_training_step_through_the_real_conf(tmp_path):
    overrides = ["data=tiny", "model=char_mamba_bidir_rc_tiny", "model.config.d_model=16", "model.config.n_layer=2",
                 "model.config.scan_backend=torch", "data.window=48", "data.batch_size=2", "logger=csv",
                 "module.scheduler=null", "debug=fast_dev_run"]
    cfg = compose_train(overrides, tmp_path)
    assert cfg.model.config.rc_equivariant and cfg.model.config.bidirectional
    metrics = train(cfg)
    assert 0.5 < metrics["train/bpc"] < 4.0
