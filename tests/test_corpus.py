"""Reading corpora: formats, ids, and errors that name the file and line."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jasper_tc.corpus import CorpusError, count_records, iter_records


def test_txt_skips_blank_lines_and_numbers_lines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("first\n\n  \nsecond\n", encoding="utf-8")
    assert list(iter_records(path)) == [("1", "first"), ("4", "second")]
    assert count_records(path) == 2


def test_jsonl_gz_with_ids(tmp_path):
    path = tmp_path / "a.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "x1", "body": "hello"}) + "\n" + json.dumps({"id": 7, "body": "world"}) + "\n")
    assert list(iter_records(path, "body", "id")) == [("x1", "hello"), ("7", "world")]


def test_parquet(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"], "doc": ["d1", "d2", "d3"]}), path)
    assert list(iter_records(path, id_field="doc")) == [("d1", "a"), ("d2", "b"), ("d3", "c")]
    assert count_records(path) == 3
    with pytest.raises(CorpusError, match="no column 'body'; columns are"):
        list(iter_records(path, "body"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"text": "ok"}\n{"txt": "typo"}\n', r"a.jsonl: line 2: no field 'text' \(fields: \['txt'\]\)"),
        (b'{"text": "ok"}\n{"text": ""}\n', "line 2: field 'text' is empty"),
        (b'{"text": "ok"}\n{"text": 3}\n', "line 2: field 'text' is int, not a string"),
        (b'{"text": "ok"}\nnot json\n', "line 2: not a JSON object"),
        (b'{"text": "ok"}\n{"text": "caf\xe9"}\n', "a.jsonl: line 2: not valid UTF-8"),
    ],
)
def test_bad_records_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "a.jsonl"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        list(iter_records(path))


def test_unknown_type_and_missing_file(tmp_path):
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(CorpusError, match=r"unsupported file type '\.csv'"):
        list(iter_records(tmp_path / "a.csv"))
    with pytest.raises(CorpusError, match="no such file"):
        list(iter_records(tmp_path / "missing.txt"))
