"""The walk's contract: sources of every shape, the visitor protocol,
stopping early, failures inside libarchive callbacks, type detection."""
from __future__ import annotations

import io
import os

import pytest

import avgate
from avgate import content
from avgate.governor import ScanBudget, ScanLimits
from avgate.sniff import sniff
from content_fixtures import (
    ARCHIVE_FORMATS, CLEAN, COMPRESSED_KINDS, EICAR, EICAR_HDB, archive, compress, gzip_zeros, mail_with_attachment,
    mbox, tar_bytes, zip_bytes,
)


class Recorder:
    """A visitor that records every call."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.events: list[tuple] = []
        self.problems: list[avgate.ScanError] = []
        self.fed: dict[str, bytearray] = {}
        self._stop_after = stop_after

    @property
    def stopped(self) -> bool:
        return self._stop_after is not None and len(self.fed) >= self._stop_after

    def begin(self, path: str, layer: int) -> "Recorder._Sink":
        self.events.append(("begin", path, layer))
        self.fed[path] = bytearray()
        return Recorder._Sink(self, path)

    def problem(self, error: avgate.ScanError) -> None:
        self.problems.append(error)

    class _Sink:
        def __init__(self, recorder: "Recorder", path: str) -> None:
            self.recorder = recorder
            self.path = path

        def feed(self, chunk: bytes | memoryview) -> None:
            self.recorder.fed[self.path] += chunk

        def end(self) -> None:
            self.recorder.events.append(("end", self.path))


def walk(data: object, name: str = "in", recorder: Recorder | None = None, **limits: object) -> Recorder:
    recorder = recorder or Recorder()
    content.walk(data, name, recorder, ScanBudget(ScanLimits(**limits)))  # type: ignore[arg-type]
    return recorder


def test_every_node_is_begun_fed_and_ended_with_its_exact_bytes() -> None:
    inner = tar_bytes({"a.txt": CLEAN, "b.bin": EICAR})
    data = zip_bytes({"docs.tar": inner, "note.txt": b"hello"})
    rec = walk(data, "x.zip")
    begins = [e[1:] for e in rec.events if e[0] == "begin"]
    assert begins == [("x.zip", 0), ("x.zip//docs.tar", 1), ("x.zip//docs.tar//a.txt", 2),
                      ("x.zip//docs.tar//b.bin", 2), ("x.zip//note.txt", 1)]
    assert sorted(e[1] for e in rec.events if e[0] == "end") == sorted(p for p, _ in begins)
    assert rec.fed["x.zip"] == data  # the container's own bytes, whole
    assert rec.fed["x.zip//docs.tar"] == inner
    assert rec.fed["x.zip//docs.tar//b.bin"] == EICAR
    assert rec.fed["x.zip//note.txt"] == b"hello"
    assert rec.problems == []


def test_a_decoded_archive_is_transparent_and_a_decoded_file_is_a_node() -> None:
    rec = walk(compress("xz", tar_bytes({"a.txt": CLEAN})), "t.tar.xz")
    assert [e[1:] for e in rec.events if e[0] == "begin"] == [("t.tar.xz", 0), ("t.tar.xz//a.txt", 2)]
    rec = walk(compress("xz", CLEAN), "a.txt.xz")
    assert [e[1:] for e in rec.events if e[0] == "begin"] == [("a.txt.xz", 0), ("a.txt.xz//a.txt", 1)]
    assert rec.fed["a.txt.xz//a.txt"] == CLEAN


def _chunked(data: bytes, size: int):
    for i in range(0, len(data), size):
        yield data[i : i + size]


class _Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        return self._inner.readinto(buffer)


@pytest.mark.parametrize("shape", ["path", "bytes", "bytearray", "memoryview", "file", "unseekable", "chunks",
                                   "tiny-chunks", "huge-chunk", "memoryview-chunks", "stream"])
def test_every_source_shape_gives_the_same_result(shape: str, tmp_path) -> None:
    data = zip_bytes({"a.txt": CLEAN, "sub.tar.gz": compress("gzip", tar_bytes({"payload.exe": EICAR}))})
    engine = avgate.Engine(all_matches=True)
    if shape == "path":
        path = os.path.join(tmp_path, "in")
        with open(path, "wb") as f:
            f.write(data)
        result = engine.scan_file(path)
        name = path
    elif shape == "stream":
        with engine.stream("in") as s:
            for piece in _chunked(data, 100):
                s.feed(piece)
        result, name = s.result, "in"
    else:
        source = {
            "bytes": lambda: data,
            "bytearray": lambda: bytearray(data),
            "memoryview": lambda: memoryview(data),
            "file": lambda: io.BytesIO(data),
            "unseekable": lambda: io.BufferedReader(_Unseekable(data)),
            "chunks": lambda: _chunked(data, 4096),
            "tiny-chunks": lambda: _chunked(data, 7),
            "huge-chunk": lambda: iter([data + bytes(3 << 20)]),
            "memoryview-chunks": lambda: (memoryview(c) for c in _chunked(data, 1000)),
        }[shape]()
        result = engine._scan(source, "in")
        name = "in"
    assert (EICAR_HDB, f"{name}//sub.tar.gz//payload.exe") in {(d.name, d.path) for d in result.detections}
    assert result.errors == []


def test_the_walk_stops_reading_once_the_visitor_is_done() -> None:
    reads = 0

    def source():
        nonlocal reads
        for piece in _chunked(tar_bytes({f"f{i}": CLEAN for i in range(2000)}), 4096):
            reads += 1
            yield piece

    rec = walk(source(), "t.tar", Recorder(stop_after=3))
    assert len(rec.fed) == 3
    assert reads <= 2 * (64 << 10) // 4096  # a block or two of the 1,500 pieces


def test_a_failing_source_inside_nested_callbacks_is_an_error_not_a_crash() -> None:
    data = zip_bytes({"inner.zip": zip_bytes({"big.bin": os.urandom(300_000)}, 0)}, 0)

    def source():
        yield data[:150_000]
        raise OSError("connection reset by peer")

    engine = avgate.Engine()
    result = engine._scan(source(), "upload.zip")
    assert [(p.reason, p.path) for p in result.errors] == [("default", "upload.zip")]
    assert "connection reset" in result.errors[0].detail
    assert engine.scan_bytes(zip_bytes({"e": EICAR}), "ok.zip").verdict == "infected"


def test_a_source_of_the_wrong_type_is_an_error() -> None:
    result = avgate.Engine()._scan(iter(["text, not bytes"]), "s")
    assert [p.reason for p in result.errors] == ["default"]
    assert "str" in result.errors[0].detail


def test_a_missing_file_is_an_error(tmp_path) -> None:
    result = avgate.Engine().scan_file(os.path.join(tmp_path, "missing"))
    assert [p.reason for p in result.errors] == ["default"]


def test_scan_size_is_charged_in_callbacks_and_unwinds_cleanly() -> None:
    data = zip_bytes({"inner.zip": zip_bytes({"big.bin": bytes(4 << 20)})})
    rec = Recorder()
    with pytest.raises(avgate.ContentSize) as raised:
        walk(data, "z.zip", rec, scan_size_limit=2 << 20)
    assert raised.value.path == "z.zip//inner.zip//big.bin"


# -- type detection by content ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ARCHIVE_FORMATS)
def test_sniff_names_each_archive_format(fmt: str) -> None:
    expected = fmt.split("-")[0].replace("rar4", "rar").replace("rar5", "rar")
    kind = sniff(archive(fmt, {"a.txt": CLEAN})[:33000])
    assert kind.name == expected


@pytest.mark.parametrize("kind", COMPRESSED_KINDS)
def test_sniff_names_each_compressed_stream(kind: str) -> None:
    assert sniff(compress(kind, CLEAN)).name == kind


def test_sniff_mail_and_mbox_and_plain_text() -> None:
    message = mail_with_attachment(CLEAN, "a.txt")
    assert sniff(message).name == "mail"
    assert sniff(mbox([message])).name == "mbox"
    assert sniff(b"Received: from x\r\nReceived: from y\r\n\r\nbody").name == "mail"
    assert sniff(b"Subject: hi\nTo: a@b\n\nx").name == "mail"
    for text in (b"Subject: only one field\n\nbody", b"From here on\nall is text", b"Hello: world\nfoo: bar\n",
                 CLEAN, b"", os.urandom(4096)):
        assert sniff(text).name == "data", text[:20]


def test_sniff_rejects_near_misses() -> None:
    assert sniff(b"BZh9" + os.urandom(100)).name == "data"  # no bzip2 block magic
    assert sniff(b"\x5d\x00\x00\x80\x00" + b"\xff" * 8).name == "lzma"
    assert sniff(b"\x5d\x01\x02\x03\x04" + b"\xff" * 8).name == "data"  # odd dictionary size
    tar = bytearray(tar_bytes({"a": b"x"}))
    tar[257:265] = bytes(8)  # no magic: still a (v7-style) tar by its checksum...
    tar[148:156] = b" " * 8
    tar[148:156] = f"{sum(tar[:512]):06o}\x00 ".encode()
    assert sniff(bytes(tar)).name == "tar"
    tar[148] ^= 1  # ...unless the checksum is wrong
    assert sniff(bytes(tar)).name == "data"


def test_sniff_iso9660_needs_its_volume_descriptor_at_32769() -> None:
    iso = archive("iso9660", {"a.txt": CLEAN})
    assert sniff(iso[:32774]).name == "iso9660"
    assert sniff(iso[:32773]).name == "data"


def test_detection_by_content_not_name(tmp_path) -> None:
    engine = avgate.Engine(all_matches=True)
    for name, data in (("report.pdf", gzip_zeros(1 << 20)), ("x.zip", CLEAN)):
        path = os.path.join(tmp_path, name)
        with open(path, "wb") as f:
            f.write(data)
        result = engine.scan_file(path)
        assert result.errors == []
        assert result.stats.files == (2 if name == "report.pdf" else 1)


def test_concurrent_scans_in_threads_each_get_their_own_walk() -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = avgate.Engine(all_matches=True)
    inputs = {
        f"in{i}.zip": zip_bytes({f"d{i}.tar.gz": compress("gzip", tar_bytes({f"p{i}.exe": EICAR, "c": CLEAN * 50}))})
        for i in range(8)
    }

    def scan(name: str) -> set[str]:
        return {d.path for d in engine.scan_bytes(inputs[name], name).detections if d.name == EICAR_HDB}

    with ThreadPoolExecutor(4) as pool:
        results = dict(zip(inputs, pool.map(scan, inputs)))
    for i in range(8):
        assert results[f"in{i}.zip"] == {f"in{i}.zip//d{i}.tar.gz//p{i}.exe"}
