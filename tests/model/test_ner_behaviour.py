"""Behaviour of the trained NER tagger (checklist style: minimum functionality,
invariance, a directional expectation), on sentences any CoNLL tagger should handle.
The sentence's template and the person names are held out of the tiny CI model's
training data (tests/synthetic.py: PROBE_TEMPLATE, PROBE_NAMES)."""
import pytest

from tasks.ner.inference import tag_entities
from tests.synthetic import PROBE_NAMES, PROBE_TEMPLATE as SENTENCE


def test_minimum_functionality(ner_tagger):
    assert tag_entities(ner_tagger, SENTENCE.format("John Smith")) == [
        ("PER", "John Smith"), ("ORG", "Siemens"), ("LOC", "Berlin")]


@pytest.mark.parametrize("name", PROBE_NAMES[1:])
def test_a_changed_person_name_changes_nothing_else(ner_tagger, name):
    assert tag_entities(ner_tagger, SENTENCE.format(name)) == [("PER", name), ("ORG", "Siemens"), ("LOC", "Berlin")]


def test_a_capitalised_unknown_word_as_subject_is_an_entity(ner_tagger):
    word = "Zorblaxian"
    assert word.lower() not in ner_tagger.vocab["words"]
    entities = tag_entities(ner_tagger, SENTENCE.format(word))
    assert any(word in text.split() for _, text in entities), entities


def test_the_same_text_gives_the_same_entities(ner_tagger):
    text = "Officials in Paris met Anna Weber ."
    assert tag_entities(ner_tagger, text) == tag_entities(ner_tagger, text)
