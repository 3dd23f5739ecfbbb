"""File helpers shared by every stage: clear data errors, atomic outputs, CSV/JSON."""
from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence


class DataError(ValueError):
    """Bad input data; ``str()`` reads ``file:line: message``."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


STAGING = Path(".cache") / "atomic"  # under the working directory (a stage's: the project root)


def _staging_dir(target: Path) -> Path:
    """Where a new output is written before it is renamed into place: outside every
    output folder (so that nothing half-written is ever seen under an output path), on
    the target's filesystem (so that the rename is atomic); else next to the target."""
    try:
        STAGING.mkdir(parents=True, exist_ok=True)
        if os.stat(STAGING).st_dev == os.stat(target.parent).st_dev:
            return STAGING.resolve()
    except OSError:
        pass
    return target.parent


class OutputWriteError(OSError):
    """An output could not be written (disk full, file-size or quota limit)."""


_NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


@contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path (see :func:`_staging_dir`); put it at ``target`` only on success.

    Works for a file or a directory written at the yielded path. On any exception
    (including KeyboardInterrupt) the temporary is removed and ``target`` is untouched.
    A file is replaced by one ``os.replace``. A directory cannot be replaced atomically
    when it exists, so the old one is first renamed aside, the new one renamed in, and
    only then the old one deleted: at every moment ``target`` is either the complete old
    output or the complete new one (or, between the two renames, briefly absent; never
    a partial one).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=_staging_dir(target)))
    tmp = work / target.name
    try:
        try:
            yield tmp
        except OSError as err:
            # numpy reports a short write ("6000 requested and 992 written") without an errno.
            short_write = err.errno is None and "requested and" in str(err)
            if err.errno in _NO_ROOM or short_write:
                reason = os.strerror(err.errno) if err.errno else f"short write: {err}"
                raise OutputWriteError(err.errno or errno.ENOSPC, f"{target}: could not be written ({reason}); "
                                                                  f"the previous output, if any, is untouched") from err
            raise
        if not tmp.exists():
            raise RuntimeError(f"nothing was written for {target}")
        if target.is_dir() and not target.is_symlink():
            old = work / f"{target.name}.old"
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except BaseException:
                os.replace(old, target)  # put the previous output back
                raise
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_json(path: Path | str, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def write_text(path: Path | str, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def csv_text(rows: Iterable[Sequence[Any]] | Iterable[dict], header: Sequence[str] | None = None) -> str:
    """CSV through the csv module, so a value with a comma or a quote stays one field.
    ``rows`` are sequences (with ``header``) or dicts (header = the first row's keys)."""
    rows = list(rows)
    buf = io.StringIO()
    if rows and isinstance(rows[0], dict):
        writer = csv.DictWriter(buf, fieldnames=list(header or rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        writer = csv.writer(buf, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path | str, rows, header: Sequence[str] | None = None) -> None:
    write_text(path, csv_text(rows, header))


def save_npy(path: Path | str, array: Any) -> None:
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def save_npz(path: Path | str, compressed: bool = True, **arrays: Any) -> None:
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)


def read_json(path: Path | str) -> Any:
    path = Path(path)
    if not path.is_file():
        raise DataError(path, None, "file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, err.lineno, f"not valid JSON: {err.msg}") from None


def tree_digest(*paths: Path | str) -> str:
    """md5 over the contents of files and (recursively, in name order) directories."""
    h = hashlib.md5()
    for root in map(Path, paths):
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for f in files:
            h.update(str(f.relative_to(root) if root.is_dir() else f.name).encode())
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()
