"""Nesting: 2-6 layers mixing formats, the layer counting rule, and
decompress-layer-limit."""
from __future__ import annotations

import gzip

import pytest

import avgate
from content_fixtures import (
    CLEAN, EICAR, EICAR_HDB, archive, compress, mail_with_attachment, mbox, sevenzip, tar_bytes, zip_bytes,
)


def engine(limit: int = 16) -> avgate.Engine:
    return avgate.Engine(profile=avgate.Profile(decompress_layer_limit=limit), all_matches=True)


def eicar_paths(result: avgate.ScanResult) -> set[str]:
    return {d.path for d in result.detections if d.name == EICAR_HDB}


# Each case: (name, builder of the input, the path of EICAR, the layer EICAR is
# at, the node that cannot be opened one layer short)
def _two() -> bytes:
    return zip_bytes({"inner.tar": tar_bytes({"payload.exe": EICAR})})


def _three() -> bytes:
    return tar_bytes({"a.7z": sevenzip({"b.zip": zip_bytes({"payload.exe": EICAR})})})


def _four() -> bytes:
    return mail_with_attachment(zip_bytes({"c.cpio": archive("cpio-newc", {"d.xz": compress("xz", EICAR)})}), "c.zip")


def _five() -> bytes:
    inner = archive("rar4", {"e.bz2": compress("bzip2", archive("cab", {"payload.exe": EICAR}))})
    return gzip.compress(tar_bytes({"r.rar": inner}))


def _six() -> bytes:
    level5 = archive("lha", {"payload.exe": EICAR})
    level4 = archive("ar", {"f.lzh": level5})
    level3 = zip_bytes({"g.a": level4})
    level2 = mail_with_attachment(level3, "h.zip")
    level1 = mbox([mail_with_attachment(CLEAN, "x.txt"), level2])
    return archive("iso9660", {"box.mbox": level1})


NESTED = [
    ("two.zip", _two, "two.zip//inner.tar//payload.exe", 2, "two.zip//inner.tar"),
    ("three.tar", _three, "three.tar//a.7z//b.zip//payload.exe", 3, "three.tar//a.7z//b.zip"),
    ("four.eml", _four, "four.eml//c.zip//c.cpio//d.xz//d", 4, "four.eml//c.zip//c.cpio//d.xz"),
    # five.tgz 0, its tar 1, r.rar 2, e.bz2 3, the cab in it 4 (a node once it cannot be opened)
    ("five.tgz", _five, "five.tgz//r.rar//e.bz2//payload.exe", 5, "five.tgz//r.rar//e.bz2//e"),
    ("six.iso", _six, "six.iso//box.mbox//message-2//h.zip//g.a//f.lzh//payload.exe", 6,
     "six.iso//box.mbox//message-2//h.zip//g.a//f.lzh"),
]


@pytest.mark.parametrize("name,build,path,layer,short", NESTED, ids=[n for n, *_ in NESTED])
def test_nested_eicar_is_found_with_its_full_path(name: str, build, path: str, layer: int, short: str) -> None:
    result = engine().scan_bytes(build(), name)
    assert path in eicar_paths(result), result
    assert result.errors == []
    assert result.stats.max_layer == layer


@pytest.mark.parametrize("name,build,path,layer,short", NESTED, ids=[n for n, *_ in NESTED])
def test_one_layer_short_is_decompress_layer_at_the_last_container(name: str, build, path: str, layer: int,
                                                                   short: str) -> None:
    result = engine(limit=layer - 1).scan_bytes(build(), name)
    assert path not in eicar_paths(result)
    assert [(p.reason, p.path) for p in result.errors] == [("decompress-layer", short)]
    assert f"layer {layer}" in result.errors[0].detail
    assert result.decision.action == "block"
    assert result.decision.reason == ("virus" if result.detections else "decompress-layer")


def test_default_limit_is_four_with_layer_zero_the_input() -> None:
    default = avgate.Engine(all_matches=True)
    assert avgate.Profile().decompress_layer_limit == 4
    four = default.scan_bytes(_four(), "four.eml")
    assert "four.eml//c.zip//c.cpio//d.xz//d" in eicar_paths(four)
    five = default.scan_bytes(_five(), "five.tgz")
    assert [p.reason for p in five.errors] == ["decompress-layer"]


def test_layer_problem_does_not_stop_the_siblings() -> None:
    deep = zip_bytes({"deeper.zip": zip_bytes({"payload.exe": EICAR})})
    data = tar_bytes({"a.zip": deep, "b.exe": EICAR})
    result = engine(limit=2).scan_bytes(data, "t.tar")
    assert [(p.reason, p.path) for p in result.errors] == [("decompress-layer", "t.tar//a.zip//deeper.zip")]
    assert eicar_paths(result) == {"t.tar//b.exe"}


def test_compressed_archive_counts_the_decoded_stream_as_a_layer() -> None:
    data = gzip.compress(tar_bytes({"payload.exe": EICAR}))
    assert eicar_paths(engine(limit=2).scan_bytes(data, "x.tar.gz")) == {"x.tar.gz//payload.exe"}
    short = engine(limit=1).scan_bytes(data, "x.tar.gz")
    assert [(p.reason, p.path) for p in short.errors] == [("decompress-layer", "x.tar.gz//x.tar")]
