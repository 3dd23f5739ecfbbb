"""The behaviour probes are held out of the tiny models' training data, so the behaviour
tests measure generalisation, not memory."""
import re

from tests.synthetic import PROBE_NAMES, PROBE_TEMPLATE, write_behaviour_conll


def test_probe_template_and_names_never_occur_in_training(tmp_path):
    write_behaviour_conll(tmp_path)
    text = (tmp_path / "train.txt").read_text()
    sentences = [" ".join(line.split()[0] for line in block.splitlines()) for block in text.split("\n\n") if block]
    assert len(sentences) == 300
    template = re.escape(PROBE_TEMPLATE).replace(r"\{\}", ".+")
    assert not any(re.fullmatch(template, s) for s in sentences)
    assert not any(" works for " in s for s in sentences)
    words = set(text.split())
    for name in PROBE_NAMES:
        assert not set(name.split()) & words, name


def test_the_tag_probe_is_a_new_article(tmp_path):
    from tests.synthetic import TAG_PROBE_TEXT, _WORDS, write_citeulike_slice

    write_citeulike_slice(tmp_path)
    articles = [{_WORDS[int(pair.split(":")[0])] for pair in line.split()[1:]}
                for line in (tmp_path / "mult.dat").read_text().splitlines()]
    assert len(articles) == 120
    assert set(TAG_PROBE_TEXT.split()) not in articles
