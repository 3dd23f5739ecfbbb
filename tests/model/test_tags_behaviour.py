"""Behaviour of the trained tag model for a new article (inductive use)."""
from tasks.tags.inference import predict_tags
from tests.synthetic import TAG_PROBE_TEXT as TEXT  # held out of the tiny model's articles


def test_an_article_in_no_list_still_gets_tags(tag_model):
    p = predict_tags(tag_model, TEXT, [])
    assert p.neighbours == 0 and any("no neighbours" in n for n in p.notes)
    assert p.tags and set(p.tags) <= set(tag_model.tags)
    assert len(p.top) >= 1 and all(0.0 <= v <= 1.0 for _, v in p.top)


def small_list(tag_model) -> str:
    """A list with a few articles (large ones may be over max_list_size)."""
    import numpy as np

    sizes = np.asarray(tag_model.B.sum(axis=0)).ravel()
    column = int(np.flatnonzero(sizes >= 2)[np.argmin(sizes[sizes >= 2])])
    return next(name for name, i in tag_model.list_index.items() if i == column)


def test_lists_change_the_graph_side_not_the_validity(tag_model):
    some_list = small_list(tag_model)
    p = predict_tags(tag_model, TEXT, [some_list])
    assert p.neighbours > 0 and p.tags and set(p.tags) <= set(tag_model.tags)
    assert tag_model.smoothing is not None and set(p.graph_tags) <= set(tag_model.tags)


def test_the_same_article_gets_the_same_tags(tag_model):
    some_list = small_list(tag_model)
    assert predict_tags(tag_model, TEXT, [some_list]) == predict_tags(tag_model, TEXT, [some_list])
