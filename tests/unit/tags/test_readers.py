"""Article/list readers: citeulike .dat files and the Medium CSV format, good and bad."""

import numpy as np
import pytest

from tasks.tags.readers import read_citeulike, read_medium
from tasks.common.files import DataError


def write_citeulike(root, users="2 0 1\n3 1 2 1\n", mult=None, tags="ml\nbio\n", tag_item="2 0 1\n1 2\n"):
    root.mkdir(parents=True, exist_ok=True)
    (root / "vocabulary.dat").write_text("graph\nneural\nprotein\n")
    (root / "mult.dat").write_text(mult or "2 0:2 1:1\n1 1:1\n1 2:3\n1 2:1")
    (root / "users.dat").write_text(users)
    (root / "tags.dat").write_text(tags)
    (root / "tag-item.dat").write_text(tag_item)
    return root


def test_citeulike_tables_and_counts(tmp_path):
    t = read_citeulike(write_citeulike(tmp_path / "c"))
    assert list(t.articles["text"]) == ["graph graph neural", "neural", "protein protein protein", "protein"]
    assert [list(x) for x in t.articles["tags"]] == [["ml"], ["ml"], ["bio"], []]
    assert t.counts["duplicate_memberships_dropped"] == 1  # "1" twice in user1's library
    assert t.counts["articles_without_lists"] == 1 and t.counts["articles_without_tags"] == 1
    assert sorted(map(tuple, t.memberships.to_numpy().tolist())) == [(0, "user0"), (1, "user0"), (1, "user1"), (2, "user1")]


@pytest.mark.parametrize("kwargs, file, line, message", [
    ({"users": "2 0 1\n2 1 9\n"}, "users.dat", 2, "unknown article id 9"),
    ({"users": "3 0 1\n"}, "users.dat", 1, "count says 3"),
    ({"users": "2 0 x\n"}, "users.dat", 1, "expected integers"),
    ({"mult": "2 0:2 1:1\n1 7:1\n1 2:3\n1 2:1"}, "mult.dat", 2, "known word ids"),
    ({"mult": "2 0:2 1:1\n1 1-1\n1 2:3\n1 2:1"}, "mult.dat", 2, "word_id:count"),
    ({"tag_item": "2 0 1\n1 5\n"}, "tag-item.dat", 2, "unknown article id 5"),
])
def test_citeulike_bad_input_names_file_and_line(tmp_path, kwargs, file, line, message):
    root = write_citeulike(tmp_path / "c", **kwargs)
    with pytest.raises(DataError) as err:
        read_citeulike(root)
    assert f"{root / file}:{line}:" in str(err.value) and message in str(err.value)


def write_medium(root, articles=None, lists=None, embeddings=None):
    root.mkdir(parents=True, exist_ok=True)
    (root / "a.csv").write_text(articles or (
        "story,title,date,author,tags\n"
        'u1,Graph networks,2023,ann,"[""ml"", ""graphs""]"\n'
        'u2,Protein folding,2023,bob,"[""bio""]"\n'
        "u3,Untagged,2023,cy,[]\n"))
    (root / "l.csv").write_text(lists or "article,list\nu1,L1\nu2,L1\nu1,L1\nu2,L2\n")
    if embeddings is not None:
        (root / "e.csv").write_text(embeddings)
    return root


def test_medium_import(tmp_path):
    root = write_medium(tmp_path / "m", embeddings='url,embedding\nu1,"[1, 0]"\nu2,"[0, 1]"\nu3,"[1, 1]"\n')
    t = read_medium(root / "a.csv", root / "l.csv", root / "e.csv")
    assert list(t.articles["key"]) == ["u1", "u2", "u3"] and list(t.articles["tags"][0]) == ["ml", "graphs"]
    assert t.counts["duplicate_memberships_dropped"] == 1 and t.counts["articles_without_lists"] == 1
    np.testing.assert_array_equal(t.embeddings, [[1, 0], [0, 1], [1, 1]])


@pytest.mark.parametrize("kwargs, file, message", [
    ({"lists": "article,list\nu1,L1\nu9,L1\n"}, "l.csv:3", "unknown article 'u9'"),
    ({"lists": "article,name\nu1,L1\n"}, "l.csv:1", "missing column(s) ['list']"),
    ({"articles": "story,title,tags\nu1,T,[oops\n"}, "a.csv:2", "not valid JSON"),
    ({"articles": "story,title\nu1,T\n"}, "a.csv:1", "missing column(s) ['tags']"),
    ({"articles": 'story,title,tags\nu1,T,"{""a"": 1}"\n'}, "a.csv:2", "must be a JSON list"),
])
def test_medium_bad_input(tmp_path, kwargs, file, message):
    root = write_medium(tmp_path / "m", **kwargs)
    with pytest.raises(DataError) as err:
        read_medium(root / "a.csv", root / "l.csv")
    assert f"{root / file}" in str(err.value) and message in str(err.value)


def test_medium_bad_embeddings(tmp_path):
    root = write_medium(tmp_path / "m", embeddings='url,embedding\nu1,"[1, 0]"\nu2,"[0]"\nu3,"[1, 1]"\n')
    with pytest.raises(DataError, match="one embedding of one size"):
        read_medium(root / "a.csv", root / "l.csv", root / "e.csv")
    root = write_medium(tmp_path / "n", embeddings='url,embedding\nzz,"[1, 0]"\n')
    with pytest.raises(DataError, match=r"e.csv:2: embedding for unknown article"):
        read_medium(root / "a.csv", root / "l.csv", root / "e.csv")


def test_medium_articles_with_a_header_and_no_rows(tmp_path):
    (tmp_path / "a.csv").write_text("story,title,date,author,tags\n")
    (tmp_path / "l.csv").write_text("article,list\nhttps://x/1,list0\n")
    with pytest.raises(DataError, match=r"no articles in .*a\.csv"):
        read_medium(tmp_path / "a.csv", tmp_path / "l.csv")


def test_read_tables_finds_the_medium_files_in_the_data_folder(tmp_path):
    from tasks.tags.readers import read_tables
    from tests.synthetic import write_medium_slice

    write_medium_slice(tmp_path)
    tables = read_tables("medium", tmp_path)
    assert len(tables.articles) == 120 and tables.embeddings is None
    assert "misc, etc" in set(tables.articles["tags"].explode())
