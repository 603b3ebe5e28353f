"""genomamba <-> transformers MambaForCausalLM and mamba-ssm conversion: logits equal transformers'
own (an independent check of our Mamba block), lossless round trip, mamba-ssm names load."""

from __future__ import annotations

import json

import pytest
import torch

from genomamba.cli.convert import main as convert_main
from genomamba.models import CharMambaLM, MambaConfig, load_model
from genomamba.models.hf_convert import ConversionError, convert, from_mamba_ssm

transformers = pytest.importorskip("transformers")


def _hf_model(vocab_size: int = 8, tie: bool = True, eps: float = 1e-5):
    torch.manual_seed(0)
    cfg = transformers.MambaConfig(
        vocab_size=vocab_size, hidden_size=16, state_size=4, num_hidden_layers=2, expand=2, conv_kernel=4,
        layer_norm_epsilon=eps, tie_word_embeddings=tie, use_mambapy=False,
    )
    model = transformers.MambaForCausalLM(cfg).eval()
    with torch.no_grad():  # transformers inits D = 1, A_log = log(1..N), dt bias: perturb them so they count
        for name, p in model.named_parameters():
            if name.endswith(("mixer.D", "mixer.A_log", "norm.weight", "norm_f.weight", "conv1d.bias")):
                p.add_(0.3 * torch.randn_like(p))
    return model


def _hf_logits(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=x, use_cache=False).logits


@pytest.mark.parametrize("tie,eps", [(True, 1e-5), (False, 1e-3)], ids=["tied-eps1e-5", "untied-eps1e-3"])
def test_transformers_to_genomamba_gives_the_same_logits(tie, eps, tmp_path):
    hf = _hf_model(tie=tie, eps=eps)
    hf.save_pretrained(tmp_path / "hf")
    assert convert(tmp_path / "hf", tmp_path / "gm") == ("transformers", "genomamba")
    ours = load_model(tmp_path / "gm", device="cpu")
    assert isinstance(ours, CharMambaLM) and ours.config.rms_norm_eps == eps and ours.config.tie_embeddings == tie
    x = torch.randint(0, 8, (2, 37))
    with torch.no_grad():
        got = ours(x)
    torch.testing.assert_close(got, _hf_logits(hf, x), rtol=1e-4, atol=1e-5)


def test_genomamba_to_transformers_and_back_is_lossless(tmp_path):
    torch.manual_seed(1)
    model = CharMambaLM(MambaConfig(d_model=16, n_layer=3, d_state=4, dt_rank=3, dt_min=0.002, scan_backend="torch"))
    model.save_pretrained(tmp_path / "gm", metadata={"steps": 7})
    assert convert_main([str(tmp_path / "gm"), str(tmp_path / "hf")]) == 0
    hf = transformers.MambaForCausalLM.from_pretrained(tmp_path / "hf").eval()
    x = torch.randint(0, 8, (1, 50))
    with torch.no_grad():
        torch.testing.assert_close(_hf_logits(hf, x), model(x), rtol=1e-4, atol=1e-5)
    assert convert_main([str(tmp_path / "hf"), str(tmp_path / "back")]) == 0
    assert json.loads((tmp_path / "back" / "config.json").read_text())["model"] == model.config.to_dict()
    back = CharMambaLM.from_pretrained(tmp_path / "back")
    assert back.training_metadata == {"steps": 7}
    a, b = model.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_mamba_ssm_state_dict_loads(tmp_path):
    hf = _hf_model()
    src = tmp_path / "mamba_ssm"
    src.mkdir()
    # MambaLMHeadModel's names: backbone.embedding (not embeddings), the rest as in transformers
    state = {k.replace("backbone.embeddings.", "backbone.embedding."): v for k, v in hf.state_dict().items()}
    torch.save(state, src / "pytorch_model.bin")
    (src / "config.json").write_text(json.dumps({
        "d_model": 16, "n_layer": 2, "vocab_size": 8, "ssm_cfg": {}, "rms_norm": True, "residual_in_fp32": True,
        "fused_add_norm": True, "pad_vocab_size_multiple": 8, "tie_embeddings": True,
    }))
    ours = from_mamba_ssm(src)
    x = torch.randint(0, 8, (2, 21))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), _hf_logits(hf, x), rtol=1e-4, atol=1e-5)
    assert convert(src, tmp_path / "gm") == ("mamba_ssm", "genomamba")


def test_other_vocabulary_is_refused(tmp_path, capsys):
    _hf_model(vocab_size=16).save_pretrained(tmp_path / "hf")
    capsys.readouterr()  # transformers' own progress bar
    with pytest.raises(ConversionError, match="vocabulary of 16 tokens"):
        convert(tmp_path / "hf", tmp_path / "gm")
    assert convert_main([str(tmp_path / "hf"), str(tmp_path / "gm")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "vocabulary of 16 tokens" in err
    assert not (tmp_path / "gm").exists()


def test_existing_destination_needs_force(tmp_path, capsys):
    CharMambaLM(MambaConfig(d_model=16, n_layer=1)).save_pretrained(tmp_path / "gm")
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert convert_main([str(tmp_path / "gm"), str(tmp_path / "hf")]) == 1
    assert "--force" in capsys.readouterr().err
    assert convert_main([str(tmp_path / "gm"), str(tmp_path / "hf"), "--force"]) == 0
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "mamba"


def test_a_shipped_model_converts_by_name(tmp_path):
    """`genomamba-convert bacteria-small DEST` works as `load_model("bacteria-small")` does, and back."""
    assert convert_main(["bacteria-small", str(tmp_path / "hf")]) == 0
    assert json.loads((tmp_path / "hf" / "config.json").read_text())["model_type"] == "mamba"
    assert convert_main([str(tmp_path / "hf"), str(tmp_path / "gm")]) == 0
    a, b = load_model("bacteria-small", device="cpu"), load_model(tmp_path / "gm", device="cpu")
    x = torch.randint(0, 4, (1, 64))
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))
