"""The one ROC plot: a Figure, one line per curve (+ the chance diagonal), saved atomically."""

from __future__ import annotations

from matplotlib.figure import Figure

from genomamba.evaluation import plot_roc, save_figure


def _labelled_lines(ax) -> list[str]:
    return [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]


def test_plot_roc_one_line_per_curve_and_panel():
    curves = {"GM_LLR": ([0.0, 0.5, 1.0], [0.0, 0.9, 1.0]), "GM_DELTA": ([0.0, 1.0], [0.0, 1.0]), "none": ([], [])}
    fig = plot_roc({"non vs negatives": curves, "mis vs negatives": {"GM_LLR": ([0, 1], [0, 1])}}, title="t")
    assert isinstance(fig, Figure)
    first, second = fig.axes
    assert _labelled_lines(first) == ["GM_LLR", "GM_DELTA"]  # the empty curve is left out
    assert len(first.get_lines()) == 3  # and the diagonal
    assert [t.get_text() for t in first.get_legend().get_texts()] == ["GM_LLR", "GM_DELTA"]
    assert _labelled_lines(second) == ["GM_LLR"] and second.get_title() == "mis vs negatives"
    assert list(first.get_lines()[0].get_ydata()) == [0.0, 0.9, 1.0]


def test_save_figure_writes_png_atomically(tmp_path):
    fig = plot_roc({"p": {"a": ([0, 1], [0, 1])}})
    out = tmp_path / "sub" / "roc.png"
    save_figure(fig, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in out.parent.iterdir()] == ["roc.png"]  # no temporary file left behind


def test_a_long_union_class_title_is_wrapped_inside_its_panel():
    """Walk-through: the title of a union of several positive values ran off the panel."""
    long = "nonsense+missense+stop_lost+start_lost+splice_donor vs synonymous"
    fig = plot_roc({long: {"GM_LLR": ([0, 1], [0, 1])}}, title="a_long_scored_file_name.vcf.gz: " + "x " * 60)
    (ax,) = fig.axes
    assert ax.get_title().replace("\n", "") == long and "\n" in ax.get_title()
    assert all(line.endswith(("+", "synonymous")) for line in ax.get_title().splitlines())  # broken after a +
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    for text in (ax.title, fig._suptitle):
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1, text.get_text()
