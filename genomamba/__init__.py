"""genomamba: chromosome-scale character-level Mamba for DNA.

The analysis API, for notebooks and scripts (`import genomamba as gm`); every `genomamba-score`
subcommand is a thin parser over the same functions:

    load_model             a model directory (CharMambaLM, MarkovLM or a variant-effect head)
    score_fasta            bits per base per record or window, as a DataFrame (`genomamba-score fasta`)
    likelihood_track       per-base log-likelihoods of a stretch of a record, as a numpy array
    embeddings             mean-pooled hidden states per record or window
    score_variants         zero-shot scores (and head probabilities) per ALT (`genomamba-score vcf`)
    generate               DNA sampled from a causal model after a prompt (`genomamba-generate`)
    saturation_mutagenesis every SNV of a region scored, as a DataFrame (`genomamba-score mutagenesis`)
    evaluate               AUROC/AUPRC of scored variants against labels, and the ROC Figure
    cross_validate_heads   position-blocked CV of heads and baselines on frozen features vs zero-shot
    read_training_log      a `genomamba-train` run's CSV log as a DataFrame (tokens seen per step)
    plot_training_curves   bits per base against tokens seen, several runs side by side

Names are imported on first use, so `import genomamba` stays cheap.
"""

from __future__ import annotations

from genomamba.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "genomamba.api",
    "score_fasta": "genomamba.api",
    "likelihood_track": "genomamba.api",
    "embeddings": "genomamba.api",
    "score_variants": "genomamba.api",
    "generate": "genomamba.models.generation",
    "saturation_mutagenesis": "genomamba.scoring.mutagenesis",
    "evaluate": "genomamba.evaluation",
    "cross_validate_heads": "genomamba.evaluation",
    "read_training_log": "genomamba.training_logs",
    "plot_training_curves": "genomamba.training_logs",
}
__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
