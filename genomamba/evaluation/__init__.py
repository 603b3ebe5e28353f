"""Evaluation of variant-effect predictors: metrics and ROC of scored variants (`evaluate`),
position-blocked cross-validation of heads and baselines on frozen features (`cross_validate_heads`),
and the pieces both are made of. What `genomamba-score evaluate` and `vep-cv` run, and what the
notebooks and benchmarks call."""

from genomamba.evaluation.baselines import context_onehot, fit_gbm, fit_logreg
from genomamba.evaluation.cross_validation import (
    METHOD_LABELS,
    CVResult,
    cross_validate_heads,
    method_label,
    write_cv_outputs,
)
from genomamba.evaluation.features import extract_features, zero_shot_scores
from genomamba.evaluation.heads import train_head_on_features
from genomamba.evaluation.metrics import (
    binary_metrics,
    evaluate_scores,
    fmt,
    fold_summary,
    jsonable,
    markdown_table,
    mean_sd,
    roc_points,
    summary_lines,
)
from genomamba.evaluation.plots import plot_roc, save_figure
from genomamba.evaluation.report import evaluate, write_evaluation
from genomamba.evaluation.scored import read_scored, to_float

__all__ = [
    "evaluate", "write_evaluation", "cross_validate_heads", "write_cv_outputs", "CVResult",
    "METHOD_LABELS", "method_label", "read_scored", "to_float", "evaluate_scores", "binary_metrics", "roc_points",
    "summary_lines", "fold_summary", "markdown_table", "fmt", "mean_sd", "jsonable", "plot_roc", "save_figure",
    "extract_features", "zero_shot_scores", "train_head_on_features", "fit_logreg", "fit_gbm", "context_onehot",
]
