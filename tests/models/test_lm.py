import pytest
import torch

from genomamba.errors import ConfigError
from genomamba.models import CharMambaLM, MambaConfig


def _model(**kw) -> CharMambaLM:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=2, d_state=4, **kw)).eval()


def test_lm_is_causal():
    model = _model()
    x = torch.randint(0, 5, (2, 40))
    t = 17
    y = x.clone()
    y[:, t + 1:] = torch.randint(0, 5, (2, 40 - t - 1))
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1])
    assert not torch.allclose(a[:, t + 1:], b[:, t + 1:])


@pytest.mark.parametrize("cut", [1, 3, 20, 39])
def test_chunked_with_carried_state_equals_one_pass(cut):
    model = _model()
    x = torch.randint(0, 5, (2, 41))
    with torch.no_grad():
        full = model(x)
        a, state = model(x[:, :cut], return_state=True)
        b, _ = model(x[:, cut:], state=state, return_state=True)
    torch.testing.assert_close(torch.cat([a, b], 1), full, rtol=1e-5, atol=1e-5)


def test_save_and_load_round_trip(tmp_path):
    model = _model()
    model.save_pretrained(tmp_path / "m", metadata={"steps": 3})
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    loaded = CharMambaLM.from_pretrained(tmp_path / "m")
    x = torch.randint(0, 5, (1, 30))
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    assert loaded.lm_head.weight.data_ptr() == loaded.embedding.weight.data_ptr()
    assert loaded.training_metadata == {"steps": 3}


def test_config_derives_and_validates():
    cfg = MambaConfig(d_model=40, vocab_size=9)
    assert cfg.d_inner == 80 and cfg.dt_rank == 3 and cfg.vocab_size == 16
    with pytest.raises(ConfigError, match="d_model"):
        MambaConfig(d_model=0)
    with pytest.raises(ConfigError, match="scan_backend"):
        MambaConfig(scan_backend="cuda")
    with pytest.raises(ConfigError, match="unknown MambaConfig keys"):
        MambaConfig.from_dict({"d_model": 8, "heads": 2})


def test_gradients_reach_every_parameter():
    model = _model().train()
    model(torch.randint(0, 5, (2, 24))).logsumexp(-1).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
