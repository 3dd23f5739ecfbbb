import gzip

import numpy as np
import pytest

from tasks.common.vectors import load_vectors
from tasks.common.files import DataError


def test_text_file_plain_gz_and_word2vec_header(tmp_path):
    body = "the 0.1 0.2\ncat 1 2\nDog 3 4\n"
    plain = tmp_path / "v.txt"
    plain.write_text("3 2\n" + body)
    gz = tmp_path / "v.txt.gz"
    with gzip.open(gz, "wt") as f:
        f.write(body)
    for path in (plain, gz):
        vec = load_vectors(str(path), keep={"the", "cat", "dog"})
        assert set(vec) == {"the", "cat", "dog"}
        np.testing.assert_allclose(vec["cat"], [1, 2])


def test_bad_vector_file_names_the_line(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("a 1 2\nb 1\n")
    with pytest.raises(DataError, match=r"v.txt:2: expected 2 numbers"):
        load_vectors(str(path))
    with pytest.raises(DataError, match="not found"):
        load_vectors(str(tmp_path / "missing.txt"))


def test_packaged_glove():
    vec = load_vectors("glove-6b-50d", keep={"london", "paris"})
    assert set(vec) == {"london", "paris"} and vec["paris"].shape == (50,)
