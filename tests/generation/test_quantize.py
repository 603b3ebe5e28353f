"""INT8 weight-only quantization: logits close to the fp32 model's, smaller weight memory, an
Int8Linear equal to the linear of its dequantized weight, generation through the quantized Mamba
step consistent with its own forward, and `genomamba-generate --quantize int8`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from genomamba.cli.generate import main
from genomamba.models.generation import Decoder, Sampling
from genomamba.models.quantize import Int8Linear, quantize_int8, weight_bytes

from .helpers import MODELS, tiny_mamba


@pytest.mark.parametrize("kind", ["mamba", "transformer"])
def test_quantized_logits_close_and_weights_smaller(kind):
    fp, q = MODELS[kind](d_model=64), MODELS[kind](d_model=64)
    before = weight_bytes(q)
    quantize_int8(q)
    assert sum(isinstance(m, Int8Linear) for m in q.modules()) >= 4
    assert isinstance(q.lm_head, nn.Linear) and q.lm_head.weight is q.embedding.weight  # tied head kept
    assert weight_bytes(q) < 0.45 * before
    tokens = torch.randint(0, 5, (2, 37), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = fp(tokens), q(tokens)
    err = (got - want).abs().max().item()
    assert err < 0.03 * want.abs().max().item(), err


def test_int8_linear_is_the_dequantized_linear():
    lin = nn.Linear(24, 10, bias=True)
    q = Int8Linear.from_linear(lin)
    x = torch.randn(2, 3, 24)
    torch.testing.assert_close(q(x), nn.functional.linear(x, q.weight, lin.bias), rtol=1e-5, atol=1e-5)
    assert q.qweight.dtype == torch.int8 and q(x).shape == (2, 3, 10)
    assert (q.weight - lin.weight).abs().max() <= lin.weight.abs().max() / 254 + 1e-7  # half a step


def test_quantized_mamba_generates_its_own_greedy_argmax(tmp_path):
    model = quantize_int8(tiny_mamba(d_model=32))
    prompt = torch.tensor([2, 0, 1, 3, 3])
    got = Decoder(model, 1, Sampling(temperature=0), steps_per_graph=4).generate(prompt, 8)[0]
    seq = prompt.clone()
    with torch.inference_mode():
        for _ in range(8):
            seq = torch.cat([seq, model(seq[None])[0, -1, :4].argmax()[None]])
    np.testing.assert_array_equal(got, seq[5:].numpy())
    model_dir = str(tiny_mamba().save_pretrained(tmp_path / "m"))
    out = tmp_path / "q.fa"
    assert main([model_dir, "--prompt-seq", "ACGTA", "--length", "20", "--quantize", "int8", "--seed", "0",
                 "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()[1]) == 20


def test_scoring_cli_quantize_int8(tmp_path):
    """`genomamba-score fasta/vcf --quantize int8`: the same records scored, bits per base within
    0.01 of the fp32 model's; an unknown mode is refused in one line."""
    from pathlib import Path

    from genomamba.cli.score import main as score_main
    from genomamba.errors import GenomambaError
    from genomamba.models.loading import load_model

    from .helpers import tiny_mamba

    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    model_dir = tiny_mamba(d_model=32).save_pretrained(tmp_path / "m")
    rows = {}
    for q in ([], ["--quantize", "int8"]):
        out = tmp_path / f"s{len(q)}.tsv"
        assert score_main(["fasta", str(model_dir), str(fixtures / "tiny.fa"), "-o", str(out), "-q", *q]) == 0
        rows[len(q)] = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    assert [r[0] for r in rows[0]] == [r[0] for r in rows[2]]
    for a, b in zip(rows[0], rows[2]):
        assert abs(float(a[2]) - float(b[2])) < 0.01
    vcf_out = tmp_path / "v.vcf"
    assert score_main(["vcf", str(model_dir), str(fixtures / "tiny.fa"), str(fixtures / "tiny.vcf"), "-o",
                       str(vcf_out), "--quantize", "int8", "-q"]) == 0
    assert "GM_LLR=" in vcf_out.read_text()
    assert type(load_model(model_dir, device="cpu", quantize="int8").layers[0].mixer.in_proj).__name__ == "Int8Linear"
    import pytest

    with pytest.raises(GenomambaError, match="quantize must be None or 'int8'"):
        load_model(model_dir, device="cpu", quantize="int4")
