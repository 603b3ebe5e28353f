# Config validation and the helpers that turn config values into rule inputs and parameters.
# Relative input paths in the config are resolved against the repository root (so the bundled
# data/ and tests/fixtures/ work whatever `--directory` is); outputs go to the working directory.
import shlex
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("8.0")


configfile: Path(workflow.basedir) / "config" / "config.yaml"


validate(config, schema="../schemas/config.schema.yaml")

ROOT = Path(workflow.basedir).parent
BIN = Path(sys.executable).parent


def cli(name):
    """Shell words that run a genomamba CLI: the one beside the Python running Snakemake (its
    venv, no activation needed), else the one on PATH (e.g. a --sdm conda env); when neither has
    it, a clear error instead of the shell's exit 127."""
    own = BIN / name
    if own.exists():
        return shlex.quote(str(own))
    hint = f"{name} not found beside {sys.executable} nor on PATH: pip install -e . into this environment, or use --sdm conda"
    return f"{{ command -v {name} >/dev/null || {{ echo {shlex.quote(hint)} >&2; exit 1; }}; }} && {name}"
MODELS = ["mamba", "markov"]


def repo_path(path):
    path = Path(path).expanduser()
    return str(path if path.is_absolute() else ROOT / path)


def train_fastas():
    return [repo_path(p) for p in config["train"]["fastas"]]


def fasta_name(path):
    name = Path(path).name
    for suffix in (".gz", ".bgz", ".fa", ".fasta", ".fna"):
        name = name.removesuffix(suffix)
    return name


# A list, not a name -> path mapping: --configfile replaces lists but merges mappings into the
# default config's, which would score the default FASTAs too.
SCORE_FASTAS = {fasta_name(p): repo_path(p) for p in config["score"]["fastas"]}
if len(SCORE_FASTAS) != len(config["score"]["fastas"]):
    raise ValueError(f"score.fastas: two files have the same name: {config['score']['fastas']}")


def score_fasta(wildcards):
    return SCORE_FASTAS[wildcards.name]


def model_dir(wildcards):
    return {"mamba": "pretrain/model", "markov": "prepare/markov"}[wildcards.model]


def train_overrides():
    train = config["train"]
    fastas = ",".join(train_fastas())
    return [
        f"experiment={train['experiment']}",
        f"data.fastas=[{fastas}]",
        f"trainer.max_steps={train['max_steps']}",
        f"seed={train['seed']}",
        *train["overrides"],
    ]


def has_variants():
    return config.get("variants") is not None


def report_inputs():
    inputs = {
        "train_metrics": "pretrain/metrics.json",
        "fasta_scores": expand(
            "score/{model}/{name}.tsv", model=MODELS, name=sorted(SCORE_FASTAS)
        ),
    }
    if has_variants():
        inputs["evaluations"] = expand("evaluate/{model}/metrics.json", model=MODELS)
    return inputs
