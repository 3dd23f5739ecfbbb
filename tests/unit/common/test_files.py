"""Atomic outputs (a directory is swapped, never deleted first) and CSV that survives commas."""
import csv
import io
import os

import pytest

from tasks.common.files import atomic_path, csv_text, write_csv


def test_a_failed_write_leaves_the_previous_directory_intact(tmp_path):
    target = tmp_path / "out"
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("stage died")
    assert (target / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporaries left


def test_a_directory_is_swapped_not_deleted_first(tmp_path, monkeypatch):
    """While the new output is renamed in, the old one is still on disk (moved aside);
    if that rename fails, the old one is put back."""
    target = tmp_path / "out"
    target.mkdir()
    (target / "a.txt").write_text("old")
    real_replace = os.replace
    seen = []

    def failing_second_rename(src, dst):
        seen.append((os.path.basename(src), os.path.basename(dst)))
        if len(seen) == 2:
            assert any(p.name == "out.old" for p in tmp_path.rglob("out.old"))  # old output still exists
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_second_rename)
    with pytest.raises(OSError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "a.txt").write_text("new")
    assert seen[:2] == [("out", "out.old"), ("out", "out")]
    assert (target / "a.txt").read_text() == "old"


def test_csv_quotes_values_with_commas_and_quotes(tmp_path):
    rows = [("misc, etc", 3), ('say "hi"', 1)]
    write_csv(tmp_path / "t.csv", rows, ("tag", "articles"))
    back = list(csv.DictReader(open(tmp_path / "t.csv", newline="")))
    assert [(r["tag"], int(r["articles"])) for r in back] == rows
    assert list(csv.DictReader(io.StringIO(csv_text([{"a": "x,y", "b": 1}])))) == [{"a": "x,y", "b": "1"}]
