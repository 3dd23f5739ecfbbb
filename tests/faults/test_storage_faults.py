"""Storage faults: a full disk while a stage writes, a corrupted output in the workspace,
a corrupted object in DVC's cache. Nothing half-written is kept or used."""
import hashlib
import subprocess
import sys

import pytest
import yaml

from tests.outputs import comparable_outputs, differing
from tests.support import TINY_TAGS, copy_project, make_project, run_ok
from tests.synthetic import write_citeulike_slice

pytestmark = pytest.mark.e2e
FLOW = [sys.executable, "-m", "flows.tags"]
EMBEDDINGS = "data/prepared/tags/text_embeddings.npy"


# Session scope: built once per test process (make test sends a file's tests to one), even
# if pytest runs another module between its tests.
@pytest.fixture(scope="session")
def finished_template(tmp_path_factory):
    """The tag pipeline after one `dvc repro`: never changed, each test gets a copy."""
    proj, env = make_project(tmp_path_factory.mktemp("storage"), {**TINY_TAGS, "tags.sage.epochs": 2})
    write_citeulike_slice(proj / "data" / "raw" / "citeulike-t")
    run_ok([sys.executable, "-m", "dvc", "repro", "evaluate_tags"], proj, env, timeout=900)
    return proj, comparable_outputs(proj)


@pytest.fixture
def finished(finished_template, tmp_path):
    proj, reference = finished_template
    copy, env = copy_project(proj, tmp_path)
    return copy, env, reference


# The stage's own work under a real file-size limit (set once MLflow has opened its run,
# so that only the stage's outputs meet it), as a full disk would stop it.
DISK_FULL = """
import resource
from tasks.common.stage import run_stage
from tasks.embed_text import work as stage_work

def work(params, mlflow):
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    return stage_work(params, mlflow)

run_stage("embed_text", work)
"""


def test_disk_full_while_writing_an_output(finished):
    proj, env, reference = finished
    proc = subprocess.run([sys.executable, "-c", DISK_FULL], cwd=proj, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 3, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "data/prepared/tags/text_embeddings.npy: could not be written" in last
    assert "previous output, if any, is untouched" in last
    assert differing(comparable_outputs(proj), reference) == []  # the previous outputs are intact
    assert not any(p.name.startswith(".") for p in (proj / "data" / "prepared").rglob("*"))


def test_corrupted_output_in_the_workspace_is_recomputed(finished):
    proj, env, reference = finished
    target = proj / EMBEDDINGS
    target.write_bytes(target.read_bytes()[:100])  # truncated
    log = run_ok(FLOW, proj, env, timeout=900)
    assert "Running stage 'embed_text'" in log.stdout + log.stderr or "checking out outputs" in log.stdout + log.stderr
    assert differing(comparable_outputs(proj), reference) == []


def test_corrupted_object_in_the_dvc_cache_is_not_used(finished):
    proj, env, reference = finished
    lock = yaml.safe_load((proj / "dvc.lock").read_text())
    md5 = next(o["md5"] for o in lock["stages"]["embed_text"]["outs"] if o["path"] == EMBEDDINGS)
    obj = proj / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.write_bytes(obj.read_bytes()[:100])  # truncated in the cache
    (proj / EMBEDDINGS).unlink()  # so the next run needs the cached copy
    run_ok(FLOW, proj, env, timeout=900)
    assert differing(comparable_outputs(proj), reference) == []  # recomputed, not the truncated object
    assert hashlib.md5(obj.read_bytes()).hexdigest() == md5  # and the cache is whole again
