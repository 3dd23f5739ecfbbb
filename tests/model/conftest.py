"""Trained models for the behaviour tests: tiny ones trained here (CI), or this
workspace's real ones with GNN_BEHAVIOUR_MODELS=real (`make test-model`, after make run)."""
import pytest

from tasks.common.settings import settings
from tests.support import ROOT, train_tiny_ner, train_tiny_tags

REAL = settings().behaviour_models == "real"


@pytest.fixture(scope="session")
def ner_tagger(tmp_path_factory):
    from tasks.common import paths
    from tasks.ner.inference import load_tagger

    folder = ROOT / paths.NER_ARTIFACTS if REAL else train_tiny_ner(tmp_path_factory.mktemp("ner"))
    return load_tagger(folder)


@pytest.fixture(scope="session")
def tag_model(tmp_path_factory):
    from tasks.tags.inference import TagModelFiles, load_tag_model

    base = ROOT if REAL else train_tiny_tags(tmp_path_factory.mktemp("tags"))
    return load_tag_model(TagModelFiles(**{k: base / v for k, v in TagModelFiles().as_dict().items()}))
