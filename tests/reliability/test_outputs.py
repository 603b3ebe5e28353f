"""Scoring outputs under faults: inputs never overwritten, streams and links kept, umask modes,
no stale index, resumable after kill -9, clean after SIGTERM / SIGINT (real signals, subprocesses)."""

from __future__ import annotations

import gzip
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pysam
import pytest
import torch

from genomamba.cli.score import main
from genomamba.models import CharMambaLM, MambaConfig
from tests.helpers import interruptible

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TINY, TINY_VCF = FIXTURES / "tiny.fa", FIXTURES / "tiny.vcf"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return CharMambaLM(MambaConfig(d_model=16, n_layer=1, d_state=4)).save_pretrained(tmp_path_factory.mktemp("m") / "lm")


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> dict[str, Path]:
    """A FASTA of 120 records and a sorted VCF of 600 SNVs on it: runs long enough to kill."""
    d = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(0)
    seqs = {f"r{i}": "".join(rng.choice(list("ACGT"), 400)) for i in range(120)}
    (d / "g.fa").write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    lines = ["##fileformat=VCFv4.2", *(f"##contig=<ID={k},length=400>" for k in seqs),
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for i in range(600):
        name, pos = f"r{i // 5}", 20 + 70 * (i % 5)
        ref = seqs[name][pos - 1]
        lines.append(f"{name}\t{pos}\tv{i}\t{ref}\t{'C' if ref != 'C' else 'G'}\t.\t.\t.")
    (d / "v.vcf").write_text("\n".join(lines) + "\n")
    return {"fasta": d / "g.fa", "vcf": d / "v.vcf"}


def _cli(*args) -> list[str]:
    return [sys.executable, "-c", "import sys; from genomamba.cli.score import main; sys.exit(main(sys.argv[1:]))",
            *map(str, args)]


def _wait_for(pred, proc, timeout=120.0) -> None:
    t0 = time.time()
    while not pred():
        assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before the signal: make the input longer"
        assert time.time() - t0 < timeout, "timed out waiting for output"
        time.sleep(0.02)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


# -- inputs are never outputs ------------------------------------------------------------------


@pytest.mark.parametrize("which", ["fasta-o", "fasta-tracks", "vcf-o", "model-embeddings"])
def test_output_onto_an_input_is_refused(model_dir, tmp_path, capsys, which):
    """Issue 9.2: `-o` / `--tracks` equal to the input destroyed it."""
    fa = tmp_path / "in.fa"
    fa.write_bytes(TINY.read_bytes())
    vcf = tmp_path / "in.vcf"
    vcf.write_bytes(TINY_VCF.read_bytes())
    model_file = model_dir / "model.safetensors"
    before = {p: p.read_bytes() for p in (fa, vcf, model_file)}
    if which == "fasta-o":
        argv = ["fasta", model_dir, fa, "-o", fa]
    elif which == "fasta-tracks":
        argv = ["fasta", model_dir, fa, "-o", tmp_path / "o.tsv", "--tracks", fa]
    elif which == "vcf-o":
        argv = ["vcf", model_dir, fa, vcf, "-o", tmp_path / "." / "in.vcf", "--window", "16"]
    else:
        argv = ["fasta", model_dir, fa, "-o", tmp_path / "o.tsv", "--embeddings", model_file.with_suffix(".npz")]
        (model_dir / "model.npz").symlink_to(model_file)
    try:
        assert main([*map(str, argv), "-q"]) == 1
    finally:
        (model_dir / "model.npz").unlink(missing_ok=True)
    assert "input of this run" in capsys.readouterr().err
    assert all(p.read_bytes() == b for p, b in before.items())


# -- streams, links, modes, indexes ------------------------------------------------------------


def test_stdout_fifo_and_device_are_streamed_not_replaced(model_dir, tmp_path):
    """Issue 9.3: a FIFO (or /dev/null) output was replaced by a regular file."""
    ref = tmp_path / "ref.tsv"
    assert main(["fasta", str(model_dir), str(TINY), "-o", str(ref), "-q", "--device", "cpu"]) == 0
    r = subprocess.run(_cli("fasta", model_dir, TINY, "-o", "-", "-q", "--device", "cpu"), capture_output=True, env=ENV)
    assert r.returncode == 0 and r.stdout == ref.read_bytes()
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert main(["fasta", str(model_dir), str(TINY), "-o", str(fifo), "-q", "--device", "cpu"]) == 0
    reader.join(30)
    assert got == [ref.read_bytes()] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert main(["fasta", str(model_dir), str(TINY), "-o", os.devnull, "-q", "--device", "cpu"]) == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert not list(tmp_path.glob(".*"))


def test_symlinked_output_writes_its_target(model_dir, tmp_path):
    """Issue 9.3: a symbolic link output was replaced by a regular file."""
    target, link = tmp_path / "real" / "scores.tsv", tmp_path / "scores.tsv"
    target.parent.mkdir()
    target.write_text("old\n")
    link.symlink_to(target)
    assert main(["fasta", str(model_dir), str(TINY), "-o", str(link), "-q", "--device", "cpu"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("name\tlength")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_follow_the_umask(model_dir, tmp_path, umask):
    """Issue 9.9: outputs were created 0600 whatever the umask."""
    old = os.umask(umask)
    try:
        outs = [tmp_path / "o.tsv", tmp_path / "o.bedGraph.gz", tmp_path / "v.vcf.gz", tmp_path / "v.vcf.gz.tbi"]
        assert main(["fasta", str(model_dir), str(TINY), "-o", str(outs[0]), "--tracks", str(outs[1]), "-q",
                     "--device", "cpu"]) == 0
        assert main(["vcf", str(model_dir), str(TINY), str(TINY_VCF), "-o", str(outs[2]), "--window", "16", "-q"]) == 0
    finally:
        os.umask(old)
    for p in outs:
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask, f"{p.name}: {oct(p.stat().st_mode)}"


def test_no_stale_index_when_indexing_fails(model_dir, tmp_path):
    """Issue 9.8: a failed tabix index left the previous run's .tbi beside the new .vcf.gz."""
    out = tmp_path / "o.vcf.gz"
    assert main(["vcf", str(model_dir), str(TINY), str(TINY_VCF), "-o", str(out), "--window", "16", "-q"]) == 0
    assert (tmp_path / "o.vcf.gz.tbi").exists()
    lines = TINY_VCF.read_text().splitlines()
    body = [x for x in lines if not x.startswith("#")]
    unsorted = tmp_path / "unsorted.vcf"
    unsorted.write_text("\n".join([x for x in lines if x.startswith("#")] + body[::-1]) + "\n")
    assert main(["vcf", str(model_dir), str(TINY), str(unsorted), "-o", str(out), "--window", "16", "-q"]) == 0
    assert not (tmp_path / "o.vcf.gz.tbi").exists()
    with gzip.open(out, "rt") as f:
        assert sum(1 for x in f if not x.startswith("#")) == len(body)


# -- signals and resume ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fasta", "vcf"])
def test_resume_after_kill_is_byte_identical(model_dir, many, tmp_path, kind):
    """Issue 9 (Also): `--resume` keeps the records a killed run wrote and scores only the rest."""
    a, b = tmp_path / "a", tmp_path / "b"  # same relative output name: the VCF header records the command
    a.mkdir()
    b.mkdir()
    if kind == "fasta":
        name = "o.tsv.gz"
        # packed rows of 512 bases: groups of about two records, so a kill leaves whole groups to keep
        args = ("fasta", model_dir, many["fasta"], "-o", name, "--tracks", "o.bedGraph", "--batch-size", "2",
                "--chunk-size", "512", "--device", "cpu", "-q")
        enough = 6  # rows (records) in the partial output
    else:
        name = "o.vcf.gz"
        args = ("vcf", model_dir, many["fasta"], many["vcf"], "-o", name, "--window", "32", "--batch-size", "4",
                "--device", "cpu", "-q")
        enough = 150  # lines: the header and the first buffered records
    assert subprocess.run(_cli(*args), env=ENV, cwd=a).returncode == 0
    partial = b / f".{name}.partial"
    proc = subprocess.Popen(_cli(*args), env=ENV, cwd=b)
    _wait_for(lambda: _lines(partial) >= enough, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (b / name).exists() and partial.exists()
    r = subprocess.run(_cli(*args, "--resume"), env=ENV, cwd=b, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if kind == "fasta":
        assert "resuming: " in r.stderr and "records already in the partial output" in r.stderr
    else:
        scored = int(r.stderr.split(" records (")[0].rsplit(" ", 1)[1])
        assert 0 < scored < 600, r.stderr  # only the rest was scored
    assert gzip.decompress((b / name).read_bytes()) == gzip.decompress((a / name).read_bytes())
    if kind == "fasta":
        assert (b / "o.bedGraph").read_bytes() == (a / "o.bedGraph").read_bytes()
    else:
        assert pysam.VariantFile(str(b / name)) and (b / f"{name}.tbi").exists()
    assert not list(b.glob(".*")), "no temporary or partial file left"


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_gives_one_line_and_removes_temporaries(model_dir, many, tmp_path, sig, code):
    """Issue 9.10: SIGINT printed a traceback; SIGTERM left temporary files. Now: one line, the
    target untouched, no temporary left (only the resumable `.NAME.partial`)."""
    out = tmp_path / "o.tsv"
    out.write_text("previous\n")
    proc = subprocess.Popen(_cli("fasta", model_dir, many["fasta"], "-o", out, "--both-strands", "--chunk-size", "64",
                                 "--embeddings", tmp_path / "e.npz", "--device", "cpu", "-q"),
                            env=ENV, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    partial = tmp_path / ".o.tsv.partial"
    _wait_for(lambda: _lines(partial) >= 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "genomamba-score fasta:" in err
    # the kept partial is named, and how to continue it (--embeddings cannot be resumed)
    assert f"the partial output was kept ({partial}): rerun with --resume without --embeddings to continue it" in err
    assert out.read_text() == "previous\n"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".o.tsv.partial", "o.tsv"], left


def test_read_only_output_folder_is_one_line_naming_the_output(tmp_path, capsys, monkeypatch):
    import os
    import tempfile

    from genomamba.cli.score import main as score_main

    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: answer as the kernel would answer a user
        real_touch, real_mkstemp = Path.touch, tempfile.mkstemp

        def refuse(path):
            if Path(path).parent == ro:
                raise PermissionError(13, "Permission denied", str(path))

        def touch(self, *a, **kw):
            refuse(self)
            return real_touch(self, *a, **kw)

        def mkstemp(*a, dir=None, prefix="", **kw):
            refuse(Path(dir or ".") / prefix)
            return real_mkstemp(*a, dir=dir, prefix=prefix, **kw)

        monkeypatch.setattr(Path, "touch", touch)
        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    else:
        ro.chmod(0o555)
    markov = tmp_path / "markov"
    assert score_main(["fit-markov", "-k", "2", "-q", "-o", str(markov), str(FIXTURES / "tiny.fa")]) == 0
    capsys.readouterr()
    out = ro / "scores.tsv"
    assert score_main(["fasta", str(markov), str(FIXTURES / "tiny.fa"), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "permission" in err[0], err
    assert not out.exists()
