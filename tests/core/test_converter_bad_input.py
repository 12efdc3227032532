"""Bad exports fail with a typed error naming export, file and line, and leave the destination untouched."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ddb_lake.core import errors
from ddb_lake.core.convert.converter import convert_export
from ddb_lake.core.convert.export_writer import item_line, write_export

EXPORT_ID = "01700000000000-badbad00"


def _export(tmp_path: Path, lines: list[bytes], **kwargs) -> Path:
    good = [item_line({"pk": {"S": f"k{i}"}, "n": {"N": str(i)}}) for i in range(3)]
    return write_export(tmp_path / "in" / "AWSDynamoDB" / EXPORT_ID, [good, lines], **kwargs)


def _data_file(src: Path) -> Path:
    return sorted((src / "data").iterdir())[1]


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00000.parquet").write_bytes(b"previous snapshot")
    manifest = {"dest": str(out), "files": [{"path": str(out / "part-00000.parquet"), "rows": 1, "bytes": 17}]}
    (out / "_manifest.json").write_text(json.dumps(manifest))  # an earlier conversion's, so the folder is owned
    return out


def _fails(src: Path, dest: Path, error: type, **kwargs) -> errors.ExportFormatError:
    with pytest.raises(error) as caught:
        convert_export(str(src), str(dest), **kwargs)
    assert caught.value.export_id == EXPORT_ID
    assert sorted(p.name for p in dest.iterdir()) == ["_manifest.json", "part-00000.parquet"]
    assert (dest / "part-00000.parquet").read_bytes() == b"previous snapshot"
    assert isinstance(caught.value, errors.ExportFormatError)
    return caught.value


def test_truncated_gzip(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "x" * 50}}) for _ in range(200)])
    data = _data_file(src)
    data.write_bytes(data.read_bytes()[:-30])
    (src / "manifest-files.json").write_text((src / "manifest-files.json").read_text().replace('"md5Checksum"', '"x"'))
    err = _fails(src, dest, errors.TruncatedGzipError)
    assert err.file == f"data/{data.name}" and "end-of-stream" in str(err)


def test_md5_mismatch(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}})])
    data = _data_file(src)
    data.write_bytes(gzip.compress(item_line({"pk": {"S": "b"}})))
    err = _fails(src, dest, errors.ChecksumMismatchError)
    assert err.file == f"data/{data.name}" and "MD5" in str(err)


def test_malformed_json_line_is_named(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}}), b'{"Item": {"pk": {"S": "b"}\n', item_line({})])
    err = _fails(src, dest, errors.MalformedLineError)
    assert err.line == 2 and err.file.startswith("data/part00001")
    assert f"export {EXPORT_ID}" in str(err) and "line 2" in str(err)


def test_wrong_json_type_under_a_tag(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}}), item_line({"pk": {"S": "b"}, "n": {"N": 5}})])
    err = _fails(src, dest, errors.MalformedLineError)
    assert err.line == 2


def test_unknown_type_tag(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}}), item_line({"pk": {"S": "b"}}),
                             item_line({"pk": {"S": "c"}, "when": {"DATE": "2020-01-01"}})])
    err = _fails(src, dest, errors.UnknownTypeTagError)
    assert err.line == 3 and "DATE" in str(err)


def test_two_tags_in_one_value(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a", "N": "1"}})])
    err = _fails(src, dest, errors.MalformedLineError)
    assert err.line == 1


def test_item_over_400_kb(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}}), item_line({"pk": {"S": "b"}, "v": {"S": "x" * 410_000}})])
    err = _fails(src, dest, errors.ItemTooLargeError)
    assert err.line == 2 and "409600-byte" in str(err)


def test_item_under_limit_with_json_overhead_passes(tmp_path):
    big = "AAAA" * 100_000  # 400,000 base64 chars = 300,000 bytes: the JSON line is long, the item is not
    src = _export(tmp_path, [item_line({"pk": {"S": "b"}, "v": {"B": big}})])
    assert convert_export(str(src), str(tmp_path / "ok"))["items"] == 4


def test_manifest_names_missing_file(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}})])
    data = _data_file(src)
    data.unlink()
    err = _fails(src, dest, errors.MissingDataFileError)
    assert err.file.endswith(data.name)


def test_file_item_count_mismatch(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}})])
    entries = [json.loads(line) for line in (src / "manifest-files.json").read_text().splitlines()]
    entries[1]["itemCount"] = 7
    (src / "manifest-files.json").write_text("".join(json.dumps(e) + "\n" for e in entries))
    err = _fails(src, dest, errors.ItemCountMismatchError)
    assert "7" in str(err) and err.file.startswith("data/")


def test_expected_items_mismatch_without_manifest(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}})], manifest=False, suffix=".gz")
    err = _fails(src, dest, errors.ItemCountMismatchError, expected_items=10)
    assert "expected 10" in str(err)


def test_unknown_output_format_is_refused_clearly(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}})])
    summary = json.loads((src / "manifest-summary.json").read_text())
    (src / "manifest-summary.json").write_text(json.dumps({**summary, "outputFormat": "PARQUET"}))
    err = _fails(src, dest, errors.UnsupportedFormatError)
    assert "'PARQUET'" in str(err) and err.file == "manifest-summary.json"


def test_error_survives_a_process_pool(tmp_path, dest):
    src = _export(tmp_path, [item_line({"pk": {"S": "a"}}), b"not json\n"])
    err = _fails(src, dest, errors.MalformedLineError, workers=2)
    assert err.line == 2 and err.file.startswith("data/part00001")
