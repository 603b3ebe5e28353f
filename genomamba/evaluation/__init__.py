"""Evaluation of variant-effect predictors: metrics and ROC of scored variants (`evaluate`),
position-blocked cross-validation of heads and baselines on frozen features (`cross_validate_heads`),
and the pieces both are made of. What `genomamba-score evaluate` and `vep-cv` run, and what the
notebooks and benchmarks call.

    report            evaluate, write_evaluation
    cross_validation  cross_validate_heads, write_cv_outputs, CVResult, METHOD_LABELS, method_label
    scored            read_scored, to_float
    metrics           binary_metrics, roc_points, evaluate_scores, summary_lines, fold_summary,
                      markdown_table, fmt, mean_sd, jsonable
    plots             plot_roc, save_figure
    features          extract_features, zero_shot_scores (frozen backbone)
    heads             train_head_on_features
    baselines         fit_logreg, fit_gbm, context_onehot

Names are imported on first use: evaluating a scored file does not import torch.
"""

from __future__ import annotations

from genomamba.lazy import lazy_exports

_MODULES = {
    "report": ["evaluate", "write_evaluation"],
    "cross_validation": ["cross_validate_heads", "write_cv_outputs", "CVResult", "METHOD_LABELS", "method_label"],
    "scored": ["read_scored", "to_float"],
    "metrics": ["binary_metrics", "roc_points", "evaluate_scores", "summary_lines", "fold_summary", "markdown_table",
                "fmt", "mean_sd", "jsonable"],
    "plots": ["plot_roc", "save_figure"],
    "features": ["extract_features", "zero_shot_scores"],
    "heads": ["train_head_on_features"],
    "baselines": ["fit_logreg", "fit_gbm", "context_onehot"],
}
_EXPORTS = {name: f"genomamba.evaluation.{module}" for module, names in _MODULES.items() for name in names}
__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
