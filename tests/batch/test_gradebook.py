"""The gradebook's pure parts: rows, the first thing to fix, fingerprints, the summary."""

from grader import gradebook as gb


def test_row_sums_points_per_group_and_names_the_first_failure():
    report = {"score": 3.0, "max_score": 6.0, "checks": [
        {"id": "integrity", "status": "passed", "score": 0},
        {"id": "layers.relu.forward", "status": "passed", "score": 1.0},
        {"id": "layers.relu.backward", "status": "failed", "score": 0.0, "message": "dx is wrong\nmore"},
        {"id": "lenet.gradient", "status": "passed", "score": 2.0}]}
    rec = gb.Record("x", "graded", 2.04, "fp")
    row = gb.row(rec, report, ["layers", "lenet"])
    assert row == {"id": "x", "score": "3", "max_score": "6", "extra": "", "status": "graded", "seconds": "2.0",
                   "layers": "1", "lenet": "2", "first_fix": "layers.relu.backward: dx is wrong"}
    assert gb.row(rec, {**report, "extra_score": 1.5}, ["layers"])["extra"] == "1.5"


def test_fingerprint_changes_with_content_rubric_options_and_version(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    d = gb.content_digest(tmp_path)
    base = gb.fingerprint(d, "rubric", {"seed": None}, "0.1.0")
    assert base == gb.fingerprint(gb.content_digest(tmp_path), "rubric", {"seed": None}, "0.1.0")
    (tmp_path / "a.py").write_text("x = 2\n")
    assert gb.fingerprint(gb.content_digest(tmp_path), "rubric", {"seed": None}, "0.1.0") != base
    assert gb.fingerprint(d, "rubric2", {"seed": None}, "0.1.0") != base
    assert gb.fingerprint(d, "rubric", {"seed": 1}, "0.1.0") != base
    assert gb.fingerprint(d, "rubric", {"seed": None}, "0.2.0") != base


def test_a_half_written_record_counts_as_unfinished(tmp_path):
    book = gb.Gradebook(tmp_path, ["a"], [])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "result.json").write_text('{"id": "a", "stat')
    assert book.record("a") is None and not book.is_done("a", "fp")


def test_histogram_puts_full_marks_in_the_last_band():
    assert gb.histogram([0, 5, 10, 10], 10, bins=2) == [("0–5", 1), ("5–10", 3)]
