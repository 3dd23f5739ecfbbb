"""The CoNLL reader: layouts, tag schemes, and every kind of bad input."""
import subprocess
import sys

import pytest

from tasks.ner.conll import iob1_to_iob2, read_conll
from tasks.common.files import DataError
from tests.support import ROOT

TYPES = ["PER", "LOC", "ORG", "MISC"]


def write(tmp_path, text, name="f.txt", raw=None):
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else text.encode("utf-8"))
    return path


def test_four_columns_docstart_and_non_ascii(tmp_path, conll_sample):
    sents = read_conll(write(tmp_path, conll_sample), TYPES)
    assert [s.tokens for s in sents] == [("EU", "rejects", "German", "call", "."), ("Peter", "Blackburn"),
                                         ("Zürich", "won")]
    assert sents[1].tags == ("B-PER", "I-PER")
    assert sents[0].line == 3


def test_two_columns_and_iob1_converted(tmp_path):
    text = "John I-PER\nSmith I-PER\nand O\nMary I-PER\nB-less B-PER\n\nParis I-LOC\n"
    sents = read_conll(write(tmp_path, text), TYPES)
    assert sents[0].tags == ("B-PER", "I-PER", "O", "B-PER", "B-PER")
    assert sents[1].tags == ("B-LOC",)


def test_iob1_to_iob2_is_idempotent():
    tags = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"]
    once = iob1_to_iob2(tags)
    assert once == ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG"]
    assert iob1_to_iob2(once) == once


def test_max_sentences(tmp_path, conll_sample):
    assert len(read_conll(write(tmp_path, conll_sample), TYPES, max_sentences=2)) == 2


@pytest.mark.parametrize("text, line, message", [
    ("EU NNP B-ORG\n", 1, "found 3"),
    ("EU NNP B-NP B-ORG\nx O\n", 2, "started with 4"),
    ("EU B-ORG\nrejects X-ORG\n", 2, "unknown tag"),
    ("EU B-\n", 1, "no entity type"),
    ("EU I-\n", 1, "no entity type"),
    ("EU B-FOO\n", 1, "unknown entity type"),
])
def test_bad_lines_name_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        read_conll(path, TYPES)
    assert f"{path}:{line}:" in str(err.value) and message in str(err.value)


def test_empty_missing_and_non_utf8(tmp_path):
    with pytest.raises(DataError, match="no sentences"):
        read_conll(write(tmp_path, "-DOCSTART- O\n\n"), TYPES)
    with pytest.raises(DataError, match="file not found"):
        read_conll(tmp_path / "nope.txt", TYPES)
    path = write(tmp_path, "", raw=b"ok O\n\nbad\xff\xfe O\n")
    with pytest.raises(DataError) as err:
        read_conll(path, TYPES)
    assert f"{path}:3:" in str(err.value) and "UTF-8" in str(err.value)


def test_prepare_stage_fails_cleanly_and_leaves_no_outputs(tmp_path, conll_sample):
    data = tmp_path / "raw"
    data.mkdir()
    (data / "train.txt").write_text(conll_sample)
    (data / "valid.txt").write_text(conll_sample)
    (data / "test.txt").write_text(conll_sample + "\nbroken line with five cols\n")
    import shutil

    import yaml

    from tests.support import project_params_raw

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params_raw({"ner.data.dir": str(data)})))
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    proc = subprocess.run([sys.executable, "-m", "tasks.prepare_ner"], cwd=tmp_path, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    assert f"{data / 'test.txt'}:15:" in proc.stderr
    assert not (tmp_path / "data" / "prepared" / "ner").exists()
    assert not list(tmp_path.glob("data/prepared/*")) and not list(tmp_path.glob("data/prepared/.*"))
