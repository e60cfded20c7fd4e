"""The numbers in the READMEs and docs are the result files' (benchmarks/readme_numbers.py)."""
import pytest

from augcn_pyg.core.errors import InputError
from benchmarks import readme_numbers as rn


def test_every_marked_block_matches_the_result_files():
    assert rn.stale() == [], "run `.venv/bin/python -m benchmarks.readme_numbers` after rerunning a benchmark"
    assert rn.main(["--check"]) == 0
    marked = sum(len(rn.MARKED.findall(p.read_text())) for p in rn.documents())
    assert marked >= 20  # the READMEs and docs use the generator, not hand-typed numbers


def test_a_stale_or_unknown_block_is_found(tmp_path, capsys):
    doc = tmp_path / "doc.md"
    doc.write_text("gcn loses <!-- numbers:losses-on-both -->lose 2–4 points on both<!-- /numbers -->.\n")
    assert rn.main(["--check", str(doc)]) == 1
    assert "doc.md: losses-on-both" in capsys.readouterr().err
    assert rn.main([str(doc)]) == 0
    assert "lose 2.2–3.6 points on the control and 3.8–5.9 on SynthAU-BP4D" in doc.read_text()
    assert rn.main(["--check", str(doc)]) == 0
    doc.write_text("<!-- numbers:nope -->1<!-- /numbers -->")
    with pytest.raises(InputError, match="unknown numbers block 'nope'"):
        rn.main(["--check", str(doc)])


def test_per_fold_means_are_the_test_on_distinct_test_sets():
    # the recorded 9-run verdicts against the per-fold-mean ones (3 distinct test sets): gatv2 was called worse
    # than none on SynthAU-BP4D over the 9 runs, but not on the per-fold means (p 0.19); gat stays worse
    gatv2 = rn.per_fold_test("store_bp4d", "frozen", "gatv2", "none")
    assert gatv2.runs == 3 and gatv2.p == pytest.approx(0.186, abs=1e-3) and gatv2.verdict == "unsure"
    assert rn.per_fold_test("store_bp4d", "frozen", "gat", "none").verdict == "b"
    assert rn.recorded_better("store_bp4d") == ["gat", "gatv2"]
