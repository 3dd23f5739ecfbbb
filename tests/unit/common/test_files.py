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
    monkeypatch.chdir(tmp_path)  # the staging folder .cache/atomic is under the working directory
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


def test_nothing_is_staged_inside_the_output_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "artifacts" / "model"
    folder.mkdir(parents=True)
    with atomic_path(folder / "weights.bin") as tmp:
        tmp.write_bytes(b"123")
        assert list(folder.iterdir()) == [] and tmp_path / ".cache" / "atomic" in tmp.parents
    assert (folder / "weights.bin").read_bytes() == b"123" and list(folder.iterdir()) == [folder / "weights.bin"]


def test_disk_full_names_the_output_and_keeps_the_old_one(tmp_path):
    import resource
    import subprocess
    import sys

    target = tmp_path / "big.txt"
    target.write_text("old")
    code = f"from tasks.common.files import write_text; write_text({str(target)!r}, 'x' * 100_000)"
    limit = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # noqa: E731
    proc = subprocess.run([sys.executable, "-c", code], preexec_fn=limit, capture_output=True, text=True)
    assert proc.returncode != 0 and f"{target}: could not be written (File too large)" in proc.stderr
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_csv_quotes_values_with_commas_and_quotes(tmp_path):
    rows = [("misc, etc", 3), ('say "hi"', 1)]
    write_csv(tmp_path / "t.csv", rows, ("tag", "articles"))
    back = list(csv.DictReader(open(tmp_path / "t.csv", newline="")))
    assert [(r["tag"], int(r["articles"])) for r in back] == rows
    assert list(csv.DictReader(io.StringIO(csv_text([{"a": "x,y", "b": 1}])))) == [{"a": "x,y", "b": "1"}]
