"""What a workspace holds and whether it changed: its output files, byte for byte or
without wall-clock fields, a watcher that catches every write while a block runs, and
the objects of a DVC remote."""
from __future__ import annotations

from pathlib import Path
from typing import Any


OUTPUT_FOLDERS = ("metrics", "plots", "artifacts", "data/prepared")  # where the stages write


def output_files(proj: Path) -> list[Path]:
    return [p for folder in OUTPUT_FOLDERS for p in sorted((proj / folder).rglob("*")) if p.is_file()]


def workspace_bytes(proj: Path) -> dict[str, bytes]:
    """params.yaml, dvc.lock and every output in a workspace, byte for byte."""
    files = [proj / "params.yaml", proj / "dvc.lock", *output_files(proj)]
    return {str(p.relative_to(proj)): p.read_bytes() for p in files}


def differing(seen: dict, reference: dict) -> list[str]:
    """The paths whose content differs, or that one side lacks: assertion messages that
    name files instead of printing their bytes."""
    missing = object()
    return sorted(k for k in seen.keys() | reference.keys() if seen.get(k, missing) != reference.get(k, missing))


class WorkspaceWatcher:
    """While its block runs, records every write to params.yaml, dvc.lock and the output
    folders of ``proj`` through Linux inotify: each modification, creation, deletion,
    move or attribute change, however brief (a file written and put back within a
    millisecond is caught, and no CPU is spent polling); at the end it also compares the
    bytes with those it held when the block began. ``changed`` names each path written,
    missing or differing."""

    WATCHED_FILES = ("params.yaml", "dvc.lock")
    # IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE |
    # IN_DELETE_SELF | IN_MOVE_SELF
    _EVENTS = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
    _OVERFLOW = 0x4000  # IN_Q_OVERFLOW: events were lost, so count everything as changed

    def __init__(self, proj: Path):
        self.proj, self.before = proj, workspace_bytes(proj)
        self.changed: set[str] = set()
        self.watches: dict[int, Path] = {}
        self._fd = -1

    def __enter__(self) -> "WorkspaceWatcher":
        import ctypes
        import os

        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        folders = [self.proj] + [d for name in OUTPUT_FOLDERS for top in [self.proj / name] if top.is_dir()
                                 for d in [top, *sorted(p for p in top.rglob("*") if p.is_dir())]]
        for folder in folders:
            wd = self._libc.inotify_add_watch(self._fd, str(folder).encode(), self._EVENTS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
            self.watches[wd] = folder
        return self

    def _events(self):
        """(watched folder, name, mask) of every event queued so far."""
        import os
        import struct

        while True:
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16:offset + 16 + size].rstrip(b"\0").decode(errors="replace")
                offset += 16 + size
                yield self.watches.get(wd), name, mask

    def __exit__(self, *exc) -> None:
        import os

        try:
            for folder, name, mask in self._events():
                if mask & self._OVERFLOW:
                    self.changed.add("(inotify queue overflow: events lost)")
                    continue
                if folder == self.proj and name not in (*self.WATCHED_FILES, *(f.split("/")[0] for f in OUTPUT_FOLDERS)):
                    continue  # elsewhere in the project (.dvc/tmp, .cache, ...): not the workspace's results
                path = (folder / name if name else folder) if folder is not None else None
                self.changed.add(path.relative_to(self.proj).as_posix() if path is not None else f"(event {mask:#x})")
        finally:
            os.close(self._fd)
        self.changed.update(differing(workspace_bytes(self.proj), self.before))


WALL_CLOCK = ("second", "time", "per_s")  # keys and columns that measure time, not results


def _without_wall_clock(path: Path, data: bytes):
    import csv
    import io
    import json

    if path.suffix == ".json":
        def strip(node):
            if isinstance(node, dict):
                return {k: strip(v) for k, v in node.items() if not any(w in k for w in WALL_CLOCK)}
            return [strip(v) for v in node] if isinstance(node, list) else node
        return strip(json.loads(data))
    if path.suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        return [{k: v for k, v in row.items() if not any(w in k for w in WALL_CLOCK)} for row in rows]
    return data


def comparable_outputs(proj: Path) -> dict[str, Any]:
    """Every DVC output of a workspace as comparable values: bytes, or JSON/CSV content
    without wall-clock fields. Keras files are left out: they carry their save date
    (what they predict is in the predictions files). A file that cannot be read whole
    (half-written) shows as "<unreadable>"."""
    out: dict[str, Any] = {}
    for p in output_files(proj):
        if p.suffix == ".keras":
            continue
        try:
            out[str(p.relative_to(proj))] = _without_wall_clock(p, p.read_bytes())
        except FileNotFoundError:
            continue  # removed while listed (DVC clears a stage's outputs before it runs)
        except (OSError, ValueError):
            out[str(p.relative_to(proj))] = "<unreadable>"
    return out


def remote_files(remote: Path) -> dict[str, bytes]:
    """Every file of a DVC remote folder, by path inside it."""
    return {str(p.relative_to(remote)): p.read_bytes() for p in sorted(remote.rglob("*")) if p.is_file()}


def half_written(files: dict[str, bytes]) -> list[str]:
    """Objects of a DVC remote whose content does not hash to their name."""
    import hashlib

    bad = []
    for name, data in files.items():
        if name.startswith("files/md5/"):
            digest = name.removeprefix("files/md5/").replace("/", "").removesuffix(".dir")
            if hashlib.md5(data).hexdigest() != digest:
                bad.append(name)
    return bad
