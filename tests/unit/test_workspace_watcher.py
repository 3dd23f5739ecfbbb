"""tests/outputs.py's WorkspaceWatcher, which the e2e tests use to show that a DVC
experiment leaves the workspace alone: it catches a write that is undone at once (which a
byte comparison before and after cannot see), a file created and removed in an output
folder, a new output subfolder's files, and ignores reads and the folders DVC may use."""
from pathlib import Path

from tests.outputs import WorkspaceWatcher


def workspace(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    for rel, text in {"params.yaml": "a: 1\n", "dvc.lock": "stages: {}\n", "metrics/m.json": "{}",
                      "data/prepared/tags/x.txt": "x", "data/raw/r.txt": "r", ".dvc/tmp/t": "t"}.items():
        (proj / rel).parent.mkdir(parents=True, exist_ok=True)
        (proj / rel).write_text(text)
    return proj


def test_reads_and_writes_elsewhere_are_not_changes(tmp_path):
    proj = workspace(tmp_path)
    with WorkspaceWatcher(proj) as watcher:
        for p in proj.rglob("*"):
            if p.is_file():
                p.read_bytes()
        (proj / ".dvc" / "tmp" / "t").write_text("another")
        (proj / ".cache").mkdir()
        (proj / "data" / "raw" / "r.txt").write_text("another")
    assert watcher.changed == set() and len(watcher.watches) == 4  # proj, metrics, data/prepared, its tags


def test_a_write_undone_at_once_is_caught(tmp_path):
    proj = workspace(tmp_path)
    with WorkspaceWatcher(proj) as watcher:
        (proj / "params.yaml").write_text("a: 2\n")
        (proj / "params.yaml").write_text("a: 1\n")
    assert watcher.changed == {"params.yaml"}


def test_output_files_created_removed_or_moved_are_caught(tmp_path):
    proj = workspace(tmp_path)
    with WorkspaceWatcher(proj) as watcher:
        (proj / "metrics" / "tmp.json").write_text("{}")
        (proj / "metrics" / "tmp.json").unlink()
        (proj / "data" / "prepared" / "tags" / "x.txt").rename(proj / "data" / "prepared" / "tags" / "y.txt")
        (proj / "data" / "prepared" / "tags" / "y.txt").rename(proj / "data" / "prepared" / "tags" / "x.txt")
        (proj / "plots").mkdir()
    assert watcher.changed == {"metrics/tmp.json", "data/prepared/tags/x.txt", "data/prepared/tags/y.txt", "plots"}
