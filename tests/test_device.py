"""`resolve_device`: a device the machine cannot give is one line from every CLI, not torch's
"AssertionError: Torch not compiled with CUDA enabled" traceback (CUDA hidden by monkeypatching)."""

from __future__ import annotations

import pytest
import torch

from genomamba.cli import generate, score
from genomamba.device import resolve_device
from genomamba.errors import GenomambaError
from genomamba.models import CharMambaLM, MambaConfig

from .conftest import FIXTURES

TINY, TINY_VCF = FIXTURES / "tiny.fa", FIXTURES / "tiny.vcf"


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    torch.manual_seed(0)
    return str(CharMambaLM(MambaConfig(d_model=16, n_layer=1)).save_pretrained(tmp_path_factory.mktemp("m") / "lm"))


def test_auto_and_cpu(no_cuda):
    assert resolve_device("auto") == resolve_device(None) == resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda", 1)])
def test_cuda_without_cuda_is_a_genomamba_error(no_cuda, device):
    with pytest.raises(GenomambaError, match=r"^device '(cuda|cuda:0|cuda:1)': .*; use cpu or auto$"):
        resolve_device(device)


def test_cuda_index_past_the_last_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(GenomambaError, match=r"'cuda:3': only 1 CUDA GPU\(s\) visible"):
        resolve_device("cuda:3")


def test_mps_where_there_is_none(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(GenomambaError, match="MPS is not available"):
        resolve_device("mps")


def test_malformed_device_string():
    with pytest.raises(GenomambaError, match="not a torch device"):
        resolve_device("gpu0")


@pytest.mark.parametrize("argv", [
    ["fasta", "{m}", str(TINY), "-o", "{t}/s.tsv"],
    ["vcf", "{m}", str(TINY), str(TINY_VCF), "-o", "{t}/s.vcf", "--window", "16"],
    ["vcf", "{m}", str(TINY), str(TINY_VCF), "-o", "{t}/s.vcf", "--window", "16", "--quantize", "int8"],
    ["mutagenesis", "{m}", str(TINY), "--region", "chr1:1-10", "-o", "{t}/m.tsv", "--window", "16"],
], ids=["fasta", "vcf", "vcf-int8", "mutagenesis"])
def test_score_cuda_on_a_cpu_only_torch_is_one_line(no_cuda, model_dir, tmp_path, capsys, argv):
    argv = [a.format(m=model_dir, t=tmp_path) for a in argv]
    assert score.main([*argv, "--device", "cuda", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"genomamba-score {argv[0]}: error: device 'cuda': ") and err.count("\n") == 1, err
    assert not list(tmp_path.iterdir()), "nothing written"


def test_generate_cuda_on_a_cpu_only_torch_is_one_line(no_cuda, model_dir, tmp_path, capsys):
    out = tmp_path / "g.fa"
    assert generate.main([model_dir, "--prompt-seq", "ACGT", "--length", "4", "-o", str(out), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("genomamba-generate: error: device 'cuda': ") and err.count("\n") == 1, err
    assert not out.exists()
