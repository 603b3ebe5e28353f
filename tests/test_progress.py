"""Stage progress off a terminal: a line when a stage starts, ends, and every LOG_EVERY_S."""

from __future__ import annotations

from genomamba import progress


def test_stage_lines_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    with progress.stage("features", 3, "variants") as done:
        done(2)
        done(1)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "features: 3 variants ..." and err[1].startswith("features: 3/3 variants done in ")
    assert len(err) == 2
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    with progress.stage("folds", 5, "folds") as done:
        done(2)
    err = capsys.readouterr().err.splitlines()
    assert err[1].startswith("folds: 2/5 folds (") and "ETA" in err[1] and err[2].startswith("folds: 2/5 folds done")


def test_stage_disabled_is_silent(capsys):
    with progress.stage("features", 3, "variants", enabled=False) as done:
        done(3)
    assert capsys.readouterr().err == ""


def test_stage_bar_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(progress, "interactive", lambda: True)
    with progress.stage("features", 4, "variants") as done:
        done(4)
    err = capsys.readouterr().err
    assert "features: 100%" in err and "4/4" in err and "..." not in err  # a tqdm bar, not the stage lines


def test_stage_note_is_a_line_of_its_own(capsys, monkeypatch):
    with progress.stage("folds", 2, "folds") as done:
        done(1, "fold 0 in 3.0 s: logreg 1.0 s, gbm 2.0 s")
        done(1)
    err = capsys.readouterr().err.splitlines()
    assert err[1] == "folds: 1/2 folds: fold 0 in 3.0 s: logreg 1.0 s, gbm 2.0 s"
    assert err[2].startswith("folds: 2/2 folds done in ") and len(err) == 3
    monkeypatch.setattr(progress, "interactive", lambda: True)
    with progress.stage("folds", 2, "folds") as done:
        done(1, "fold 0 in 3.0 s: logreg 1.0 s")
        done(1)
    err = capsys.readouterr().err
    assert "folds: 1/2 folds: fold 0 in 3.0 s: logreg 1.0 s\n" in err and "2/2" in err  # printed above the bar


def test_reset_gives_the_total_later_or_anew(capsys):
    """fasta learns its total inside write_fasta, vcf after --resume kept records: `reset`."""
    with progress.stage("score", None, "bp") as done:
        assert capsys.readouterr().err == ""  # no total yet: no start line
        done.reset(10)
        done.reset(10)  # the same total: no second start line
        done(10)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "score: 10 bp ..." and err[1].startswith("score: 10/10 bp done in ") and len(err) == 2
    with progress.stage("scoring", 5, "variants") as done:
        done.reset(3)
        done(3)
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == ["scoring: 5 variants ...", "scoring: 3 variants ..."] and err[2].startswith("scoring: 3/3")
