"""Single compressed streams: decoded as they stream, chained, checked."""
from __future__ import annotations

import gzip
import io
import tarfile
import zlib

import pytest

import avgate
from content_fixtures import (
    found, reasons, CLEAN, COMPRESSED_KINDS, EICAR, EICAR_HDB, EICAR_NDB, compress, flipped, tar_bytes, truncated, zip_bytes,
)


@pytest.fixture(scope="module")
def engine() -> avgate.Engine:
    return avgate.Engine(all_matches=True)




SUFFIX = {"gzip": "gz", "bzip2": "bz2", "xz": "xz", "lzma": "lzma", "zstd": "zst", "lz4": "lz4",
          "compress": "Z", "lzip": "lz", "uu": "uu"}


@pytest.mark.parametrize("kind", COMPRESSED_KINDS)
def test_each_compressed_stream_is_decoded_and_named(engine: avgate.Engine, kind: str) -> None:
    name = f"payload.exe.{SUFFIX[kind]}"
    result = engine.scan_bytes(compress(kind, EICAR), name)
    assert (EICAR_HDB, f"{name}//payload.exe") in found(result)
    assert result.errors == []
    assert result.stats.max_layer == 1


@pytest.mark.parametrize("kind", COMPRESSED_KINDS)
def test_decoded_name_without_a_known_suffix(engine: avgate.Engine, kind: str) -> None:
    result = engine.scan_bytes(compress(kind, EICAR), "blob")
    assert (EICAR_HDB, f"blob//blob.{kind}-decoded") in found(result)


@pytest.mark.parametrize("kind", COMPRESSED_KINDS)
def test_tar_inside_each_stream_is_walked_under_the_compressed_name(engine: avgate.Engine, kind: str) -> None:
    data = compress(kind, tar_bytes({"docs/readme.txt": CLEAN, "docs/payload.exe": EICAR}))
    result = engine.scan_bytes(data, "docs.tar.x")
    assert (EICAR_HDB, "docs.tar.x//docs/payload.exe") in found(result)
    hits = [d for d in result.detections if d.name == EICAR_HDB]
    assert result.stats.max_layer == 2  # the decoded tar is layer 1, its entries layer 2
    assert len(hits) == 1


def test_gz_of_gz_of_gz_counts_a_layer_per_stream(engine: avgate.Engine) -> None:
    data = gzip.compress(gzip.compress(gzip.compress(EICAR)))
    result = engine.scan_bytes(data, "x.gz.gz.gz")
    assert (EICAR_HDB, "x.gz.gz.gz//x.gz.gz//x.gz//x") in found(result)
    assert result.stats.max_layer == 3
    limited = avgate.Engine(profile=avgate.Profile(decompress_layer_limit=2), all_matches=True)
    deep = limited.scan_bytes(data, "x.gz.gz.gz")
    assert reasons(deep) == [("decompress-layer", "x.gz.gz.gz//x.gz.gz//x.gz")]
    assert deep.decision.action == "block"
    assert deep.detections == []


def test_gzip_with_a_wrong_crc_is_corrupt(engine: avgate.Engine) -> None:
    clean = bytearray(gzip.compress(CLEAN))
    clean[-8] ^= 0xFF  # CRC-32 of the trailer
    result = engine.scan_bytes(bytes(clean), "bad-crc.gz")
    assert reasons(result) == [("corrupt-file", "bad-crc.gz")]
    assert "CRC-32 mismatch" in result.errors[0].detail
    assert result.decision.action == "log-and-permit"
    # every decoded byte is still scanned, hashes included: a detection wins
    infected = bytearray(gzip.compress(EICAR))
    infected[-8] ^= 0xFF
    result = engine.scan_bytes(bytes(infected), "bad-crc.gz")
    assert found(result) == {(EICAR_NDB, "bad-crc.gz//bad-crc"), (EICAR_HDB, "bad-crc.gz//bad-crc")}
    assert reasons(result) == [("corrupt-file", "bad-crc.gz")]
    assert result.decision.action == "block"


def test_gzip_with_a_wrong_length_is_corrupt(engine: avgate.Engine) -> None:
    data = bytearray(gzip.compress(CLEAN))
    data[-2] ^= 0x01  # ISIZE
    result = engine.scan_bytes(bytes(data), "bad-len.gz")
    assert reasons(result) == [("corrupt-file", "bad-len.gz")]
    assert "length mismatch" in result.errors[0].detail


def test_gzip_trailer_is_checked_in_a_tar_gz_too(engine: avgate.Engine) -> None:
    data = bytearray(gzip.compress(tar_bytes({"a.txt": CLEAN})))
    data[-7] ^= 0x10
    result = engine.scan_bytes(bytes(data), "a.tar.gz")
    assert reasons(result) == [("corrupt-file", "a.tar.gz")]


def test_concatenated_gzip_members_are_one_stream(engine: avgate.Engine) -> None:
    half = len(EICAR) // 2
    data = gzip.compress(EICAR[:half]) + gzip.compress(EICAR[half:])
    result = engine.scan_bytes(data, "two.gz")
    assert found(result) == {(EICAR_NDB, "two.gz//two"), (EICAR_HDB, "two.gz//two")}


def test_data_after_the_gzip_stream_is_scanned_with_the_raw_bytes(engine: avgate.Engine) -> None:
    data = gzip.compress(CLEAN) + b"\x00" * 512 + b"trailer " + EICAR
    result = engine.scan_bytes(data, "t.gz")
    assert result.errors == []
    assert (EICAR_NDB, "t.gz") in found(result)


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "lzma", "zstd", "lz4", "lzip", "uu"])
def test_truncated_stream_is_corrupt_file(engine: avgate.Engine, kind: str) -> None:
    data = compress(kind, CLEAN * 20 + EICAR)
    result = engine.scan_bytes(truncated(data, 0.5), f"cut.{kind}")
    assert [p.reason for p in result.errors] == ["corrupt-file"]
    assert result.errors[0].path == f"cut.{kind}"
    assert result.decision.action == "log-and-permit"


@pytest.mark.parametrize("kind", ["gzip", "bzip2", "xz", "lzma", "lzip", "lz4"])
def test_bit_flipped_stream_is_corrupt_file(engine: avgate.Engine, kind: str) -> None:
    data = compress(kind, CLEAN * 20 + EICAR)
    result = engine.scan_bytes(flipped(data, len(data) // 2, 0x10), f"flip.{kind}")
    assert [p.reason for p in result.errors] == ["corrupt-file"], result


def test_zstd_checksum_mismatch_is_corrupt(engine: avgate.Engine) -> None:
    import shutil
    import subprocess

    if shutil.which("zstd") is None:
        pytest.skip("zstd tool not installed (.ci/run installs it)")
    data = subprocess.run(["zstd", "-q", "-c"], input=CLEAN * 20, capture_output=True, check=True).stdout
    result = engine.scan_bytes(flipped(data, len(data) - 2), "flip.zst")  # in the content checksum
    assert [p.reason for p in result.errors] == ["corrupt-file"]
    assert "corrupt" in result.errors[0].detail.lower() or "checksum" in result.errors[0].detail.lower()


def test_unix_compress_has_no_check_so_damage_is_only_wrong_data(engine: avgate.Engine) -> None:
    data = compress("compress", CLEAN * 20)
    result = engine.scan_bytes(truncated(data, 0.5), "cut.Z")
    assert result.verdict == "clean"  # .Z carries no length or checksum: nothing to detect


def test_decoder_failure_inside_an_archive_leaves_the_archive_going(engine: avgate.Engine) -> None:
    bad = bytearray(gzip.compress(CLEAN))
    bad[-8] ^= 1
    data = zip_bytes({"a.gz": bytes(bad), "b.exe": EICAR})
    result = engine.scan_bytes(data, "z.zip")
    assert reasons(result) == [("corrupt-file", "z.zip//a.gz")]
    assert (EICAR_HDB, "z.zip//b.exe") in found(result)


def test_gzip_decoded_in_bounded_blocks(engine: avgate.Engine) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.sizes: list[int] = []
            self.stopped = False
            self.problems: list[object] = []

        def begin(self, path: str, layer: int) -> "Recorder":
            self.path = path
            return self

        def feed(self, chunk: bytes) -> None:
            if self.path.endswith("//z"):
                self.sizes.append(len(chunk))

        def end(self) -> None:
            pass

        def problem(self, error: object) -> None:
            self.problems.append(error)

    from avgate import content
    from avgate.governor import ScanBudget

    recorder = Recorder()
    content.walk(gzip.compress(bytes(5 << 20)), "z.gz", recorder, ScanBudget())
    assert sum(recorder.sizes) == 5 << 20
    assert max(recorder.sizes) <= content.CHUNK_SIZE
    assert recorder.problems == []


def test_lzma_header_asking_for_too_much_memory_is_out_of_resources(engine: avgate.Engine) -> None:
    data = bytearray(compress("lzma", CLEAN))
    data[1:5] = (1 << 30).to_bytes(4, "little")  # a 1 GiB dictionary
    result = engine.scan_bytes(bytes(data), "greedy.lzma")
    assert reasons(result) == [("out-of-resources", "greedy.lzma")]
    assert result.decision.action == "block"
    assert engine.scan_bytes(compress("lzma", EICAR), "ok.lzma").verdict == "infected"


def test_tar_gz_from_tarfile_with_all_its_variants(engine: avgate.Engine) -> None:
    for mode in ("w:gz", "w:bz2", "w:xz"):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode) as tar:
            info = tarfile.TarInfo("deep/dir/payload.exe")
            info.size = len(EICAR)
            tar.addfile(info, io.BytesIO(EICAR))
        result = engine.scan_bytes(buf.getvalue(), f"t.{mode[2:]}")
        assert (EICAR_HDB, f"t.{mode[2:]}//deep/dir/payload.exe") in found(result), mode


def test_raw_deflate_is_not_mistaken_for_gzip(engine: avgate.Engine) -> None:
    data = zlib.compress(EICAR)  # zlib wrapper, not gzip: plain data to the walk
    result = engine.scan_bytes(data, "z.bin")
    assert result.verdict == "clean" and result.errors == []


def test_gzip_header_with_every_optional_field(engine: avgate.Engine) -> None:
    import struct

    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(EICAR) + deflate.flush()
    flags = 0x02 | 0x04 | 0x08 | 0x10  # FHCRC, FEXTRA, FNAME, FCOMMENT
    header = b"\x1f\x8b\x08" + bytes([flags]) + bytes(4) + b"\x00\x03"
    header += struct.pack("<H", 6) + b"AB\x02\x00xy" + b"payload.exe\x00" + b"a comment\x00"
    header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    data = header + body + struct.pack("<II", zlib.crc32(EICAR), len(EICAR))
    assert gzip.decompress(data) == EICAR
    result = engine.scan_bytes(data, "p.gz")
    assert found(result) == {(EICAR_NDB, "p.gz//p"), (EICAR_HDB, "p.gz//p")}
    assert result.errors == []
    cut = engine.scan_bytes(header[:15], "cut.gz")
    assert reasons(cut) == [("corrupt-file", "cut.gz")]


def test_gzip_member_with_a_bad_header_is_corrupt(engine: avgate.Engine) -> None:
    data = bytearray(gzip.compress(CLEAN))
    data[2] = 7  # not deflate: sniff still says gzip? no - the magic includes the method
    assert engine.scan_bytes(bytes(data), "x.gz").errors == []
    second = gzip.compress(CLEAN) + b"\x1f\x8b\x07" + bytes(20)  # a second "member" that is not deflate
    result = engine.scan_bytes(second, "y.gz")
    assert reasons(result) == [("corrupt-file", "y.gz")]
    assert "not a deflate member" in result.errors[0].detail


def test_zip_written_to_a_pipe_uses_data_descriptors_and_streams(engine: avgate.Engine, tmp_path) -> None:
    import shutil
    import subprocess

    if shutil.which("zip") is None:
        pytest.skip("zip tool not installed (.ci/run installs it)")
    path = tmp_path / "payload.exe"
    path.write_bytes(EICAR)
    piped = subprocess.run(["zip", "-q", "-", "payload.exe"], cwd=tmp_path, capture_output=True, check=True).stdout
    assert piped[6] & 0x08  # general purpose flag bit 3: sizes follow the data
    result = engine.scan_bytes(piped, "piped.zip")
    assert (EICAR_HDB, "piped.zip//payload.exe") in found(result)
