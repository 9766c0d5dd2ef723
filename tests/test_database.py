"""The signature database: formats, errors, allow and ignore lists, file
types, the node scanner's contract, and the shipped default database."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading

import pytest

import avgate
from avgate.database import Database, DatabaseError, default_database_dir

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SAMPLE = b"just some sample content for hashing, 7f3c"


def hexof(text: bytes) -> str:
    return text.hex()


def load(tmp_path, files: dict[str, str | bytes], **options) -> Database:
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return Database.load(tmp_path, cache=False, **options)


def names(hits) -> set[str]:
    return {name for name, _ in hits}


# ---- loading ------------------------------------------------------------------------------


def test_a_directory_loads_its_signature_files_in_name_order_and_passes_over_the_rest(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeper.ndb").write_text(f"Deeper-1:0:*:{hexof(b'deeper-sig')}\n")
    db = load(tmp_path, {
        "b.hdb": f"{hashlib.md5(SAMPLE).hexdigest()}:{len(SAMPLE)}:Sample.MD5-1\n",
        "a.ndb": f"Body.A-1:0:*:{hexof(b'body-a-sig')}\nBody.B-1:0:*:{hexof(b'body-b-sig')}\n",
        "c.hsb": f"{hashlib.sha256(SAMPLE).hexdigest()}:*:Sample.SHA256-1\n",
        "notes.txt": "not signatures",
        "freshclam.dat": b"\x00\x01",
    })
    assert [p.rsplit("/", 1)[-1] for p in db.sources] == ["a.ndb", "b.hdb", "c.hsb"]
    assert db.counts == {"ndb": 2, "hdb": 1, "hsb": 1}
    assert db.signature_count == 4
    assert db.match(b"xx body-b-sig yy") == [("Body.B-1", 13)]
    assert db.match(b"deeper-sig") == []  # subdirectories are not searched
    assert db.match(SAMPLE) == [("Sample.MD5-1", None), ("Sample.SHA256-1", None)]


def test_files_and_directories_combine(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "x.ndb").write_text(f"X-1:0:*:{hexof(b'sig-number-x')}\n")
    single = tmp_path / "y.ndb"
    single.write_text(f"Y-1:0:*:{hexof(b'sig-number-y')}\n")
    db = Database.load([tmp_path / "one", single], cache=False)
    assert names(db.match(b"sig-number-x sig-number-y")) == {"X-1", "Y-1"}


def test_missing_paths_and_unknown_files_are_errors_naming_them(tmp_path):
    with pytest.raises(DatabaseError, match="nothere.ndb: no such signature file or directory"):
        Database.load(tmp_path / "nothere.ndb")
    odd = tmp_path / "rules.txt"
    odd.write_text("A:0:*:6162\n")
    with pytest.raises(DatabaseError, match=r"rules.txt: not a signature file \(unknown extension '.txt'\)"):
        Database.load(odd)
    with pytest.raises(DatabaseError, match="unknown extension"):
        Database.from_files({"x.sig": "A:0:*:6162"})
    # and loading goes on working
    good = tmp_path / "good.ndb"
    good.write_text(f"Good-1:0:*:{hexof(b'good-signature')}\n")
    assert Database.load(good).match(b"a good-signature") == [("Good-1", 16)]


def test_names_are_reported_exactly_as_written():
    weird = "Local.Trojan Ünïcode_Name-1.UNOFFICIAL"
    db = Database.from_files({
        "local.ndb": f"{weird}:0:*:{hexof(b'unicode-named-sig')}\n",
        "local.hdb": f"{hashlib.md5(SAMPLE).hexdigest()}:{len(SAMPLE)}:Hash Name/with.odd-chars\n",
    })
    assert db.match(b"..unicode-named-sig") == [(weird, 19)]
    assert db.match(SAMPLE) == [("Hash Name/with.odd-chars", None)]


def test_crlf_lines_comments_and_blank_lines_are_accepted():
    db = Database.from_files({
        "w.ndb": b"# comment\r\n\r\nWin.Crlf-1:0:*:" + hexof(b"crlf-signature").encode() + b"\r\n",
        "w.hdb": b"# hashes\r\n" + f"{hashlib.md5(SAMPLE).hexdigest()}:{len(SAMPLE)}:Crlf.Hash-1\r\n".encode(),
    })
    assert db.counts == {"ndb": 1, "hdb": 1}
    assert db.match(b"crlf-signature") == [("Win.Crlf-1", 14)]
    assert db.match(SAMPLE) == [("Crlf.Hash-1", None)]


# ---- hash signatures ---------------------------------------------------------------------


def test_hashes_of_every_kind_match_by_digest_and_size_while_streaming():
    db = Database.from_files({
        "h.hdb": f"{hashlib.md5(SAMPLE).hexdigest()}:{len(SAMPLE)}:By.MD5-1\n"
                 f"{hashlib.md5(b'other').hexdigest()}:999:Wrong.Size-1\n",
        "h.hsb": f"{hashlib.sha1(SAMPLE).hexdigest()}:{len(SAMPLE)}:By.SHA1-1\n"
                 f"{hashlib.sha256(SAMPLE).hexdigest().upper()}:*:By.SHA256-1\n",
    })
    whole = db.match(SAMPLE)
    assert names(whole) == {"By.MD5-1", "By.SHA1-1", "By.SHA256-1"}
    assert all(offset is None for _, offset in whole)
    assert names(db.match([SAMPLE[i : i + 3] for i in range(0, len(SAMPLE), 3)])) == names(whole)
    assert db.match(b"other") == []  # its size is not the listed one
    assert db.match(SAMPLE + b"!") == []


def test_hashes_are_computed_only_while_a_node_can_still_match():
    sized = Database.from_files({"s.hdb": f"{hashlib.md5(SAMPLE).hexdigest()}:{len(SAMPLE)}:S-1\n"})
    node = sized.node_scanner()
    node.feed(SAMPLE)
    assert [kind for kind, _, _ in node._hashers] == ["md5"]
    node.feed(b"!")  # now bigger than any listed size: hashing stops
    assert node._hashers == [] and node.finish() == []
    anysize = Database.from_files({"a.hsb": f"{hashlib.sha256(SAMPLE).hexdigest()}:*:A-1\n"})
    node = anysize.node_scanner()
    node.feed(bytes(1 << 20))
    assert [kind for kind, _, _ in node._hashers] == ["sha256"]  # only the kind the database holds
    bodies_only = Database.from_files({"b.ndb": f"B-1:0:*:{hexof(b'body-only')}\n"})
    assert bodies_only.node_scanner()._hashers == []


def test_a_million_style_hash_file_goes_the_bulk_way_and_a_flevel_file_the_line_way():
    digests = [hashlib.md5(str(i).encode()).hexdigest() for i in range(2000)]
    bulk = "".join(f"{d}:{len(str(i))}:Bulk.{i}\n" for i, d in enumerate(digests))
    lines = "".join(f"{d}:{len(str(i))}:Line.{i}:50\n" for i, d in enumerate(digests))
    for text, prefix in ((bulk, "Bulk"), (lines, "Line")):
        db = Database.from_files({"many.hdb": text})
        assert db.counts == {"hdb": 2000}
        assert db.match(b"1234") == [(f"{prefix}.1234", None)]
        assert db.match(b"1999") == [(f"{prefix}.1999", None)]
        assert db.match(b"2000") == []


# ---- allow lists ---------------------------------------------------------------------------

BODY = f"Body.Hit-1:0:*:{hexof(b'7f3c-body-marker')}\n"
CONTENT = b"prefix 7f3c-body-marker suffix"


def test_an_allow_listed_node_is_clean_whatever_matched():
    db = Database.from_files({
        "b.ndb": BODY,
        "h.hdb": f"{hashlib.md5(CONTENT).hexdigest()}:*:Hash.Hit-1\n",
        "e.ndb": f"Eof.Hit-1:0:EOF-6:{hexof(b'suffix')}\n",
        "ok.fp": f"{hashlib.md5(CONTENT).hexdigest()}:{len(CONTENT)}:Known.Good\n",
    })
    node = db.node_scanner()
    assert node.feed(CONTENT) == []  # held back: the node may be listed
    assert node.finish() == [] and node.allowed
    other = CONTENT.replace(b"prefix", b"PREFIX")
    node = db.node_scanner()
    assert node.feed(other) == []
    assert node.finish() == [("Body.Hit-1", 23), ("Eof.Hit-1", 30)] and not node.allowed


def test_detections_flow_from_feed_once_a_node_outgrows_the_allow_list():
    allowed_thing = b"x" * 40
    db = Database.from_files({"b.ndb": BODY, "ok.fp": f"{hashlib.md5(allowed_thing).hexdigest()}:40:Known\n"})
    node = db.node_scanner()
    assert node.feed(CONTENT) == []  # 30 bytes: could still be the listed 40-byte file
    assert node.feed(b"more bytes") == []  # 40: still could be
    assert node.feed(b"!") == [("Body.Hit-1", 23)]  # 41: cannot
    assert node.finish() == [] and not node.allowed
    node2 = db.node_scanner()
    node2.feed(CONTENT)
    assert node2.feed(b"more bytes, now past forty") == [("Body.Hit-1", 23)]
    assert node2.feed(b"again 7f3c-body-marker") == []  # each name once per node
    assert node2.finish() == []


def test_sha_allow_lists_with_any_size_hold_every_detection_to_the_end():
    db = Database.from_files({"b.ndb": BODY, "ok.sfp": f"{hashlib.sha256(CONTENT).hexdigest()}:*:Known\n"})
    node = db.node_scanner()
    assert node.feed(CONTENT) == [] and node.feed(bytes(100_000)) == []
    assert node.finish() == [("Body.Hit-1", 23)]
    node = db.node_scanner()
    node.feed(CONTENT)
    assert node.finish() == [] and node.allowed


# ---- ignore lists -------------------------------------------------------------------------


def test_ign2_drops_signatures_by_name_or_by_name_and_line_md5():
    line_b = f"Sig.B:0:*:{hexof(b'signature-bbb')}"
    line_c = f"Sig.C:0:*:{hexof(b'signature-ccc')}"
    sha = hashlib.sha256(SAMPLE).hexdigest()
    db = Database.from_files({
        "s.ndb": f"Sig.A:0:*:{hexof(b'signature-aaa')}\n{line_b}\n{line_c}\nSig.D:0:*:{hexof(b'signature-ddd')}\n",
        "s.hsb": f"{sha}:*:Hash.Dropped\n",
        "local.ign2": f"Sig.A\nSig.B:{hashlib.md5(line_b.encode()).hexdigest()}\n"
                      f"Sig.C:{'0' * 32}\nHash.Dropped\n",
    })
    assert names(db.match(b"signature-aaa signature-bbb signature-ccc signature-ddd")) == {"Sig.C", "Sig.D"}
    assert db.match(SAMPLE) == []
    assert db.ignored == 3 and db.counts["ign2"] == 4


def test_ign2_applies_to_hash_files_parsed_line_by_line_too():
    md5 = hashlib.md5(SAMPLE).hexdigest()
    db = Database.from_files({"h.hdb": f"{md5}:{len(SAMPLE)}:H.Drop:10\n{md5}:*:H.Keep:10\n", "x.ign2": "H.Drop\n"})
    assert db.match(SAMPLE) == [("H.Keep", None)] and db.ignored == 1


# ---- malformed lines ----------------------------------------------------------------------

MD5 = hashlib.md5(b"x").hexdigest()
BAD_LINES = [
    ("bad.ndb", "Short:0:*", "3 fields; want Name:TargetType:Offset:HexSignature"),
    ("bad.ndb", "T:x:*:61626364", "target type: 'x' is not a number"),
    ("bad.ndb", "T:0:EOF-:61626364", "bad offset 'EOF-'"),
    ("bad.ndb", "T:0:*:616263646", "odd number of hex digits"),
    ("bad.ndb", "T:0:*:6162zz64", "unexpected 'z' at position 4"),
    ("bad.ndb", "T:0:*:61626364(65|66", "'(' at position 8 is not closed"),
    ("bad.ndb", "T:0:*:61626364{5-3}65", "minimum 5 is greater than maximum 3"),
    ("bad.ndb", "T:0:*:61626364{}65", "empty gap {} at position 8"),
    ("bad.ndb", "T:0:*:6162!(6364|65)6667", "must all have the same length"),
    ("bad.ndb", "T:0:*:6162(6364)6566", "needs at least two choices"),
    ("bad.ndb", "T:0:*:6162(63||64)6566", "empty choice"),
    ("bad.ndb", "T:0:*:61626364*65", "part 2 (split at '*' / '{n-}') has no two consecutive fixed bytes"),
    ("bad.ndb", "T:0:*:(61|62)63", "the signature has no two consecutive fixed bytes to anchor on"),
    ("bad.ndb", "T:0:*:*61626364", "cannot start or end with an unbounded gap"),
    ("bad.ndb", ":0:*:61626364", "empty signature name"),
    ("bad.ndb", "T:0:*:", "empty hex signature"),
    ("bad.ndb", "T:0:*:61626364:x", "MinFLevel: 'x' is not a number"),
    ("bad.ndb", "T:0:*:6162{0-99999999999999999999}6364", "is too large"),
    ("bad.ndb", "T:0:99999999999999999999:61626364", "is too large"),
    ("bad.hdb", f"{MD5}:99999999999999999999:Name", "size: 99999999999999999999 is too large"),
    ("bad.hdb", f"{MD5}:9999999999999:Name", "size: 9999999999999 is too large"),
    ("bad.hdb", "abc:1:Name", "hash of 3 hex digits; want 32 (MD5)"),
    ("bad.hdb", f"{'z' * 32}:1:Name", "is not hexadecimal"),
    ("bad.hdb", f"{MD5}:1x:Name", "size: '1x' is not a number"),
    ("bad.hdb", f"{MD5}:1:", "empty signature name"),
    ("bad.hdb", f"{MD5}:1", "2 fields; want Hash:Size:Name"),
    ("bad.hsb", f"{MD5}:1:Name", "want 40 (SHA1) or 64 (SHA256)"),
    ("bad.fp", f"{hashlib.sha1(b'x').hexdigest()}:1:Name", "want 32 (MD5)"),
    ("bad.ign2", "Name:12345", "'12345' is not an MD5"),
]


@pytest.mark.parametrize("filename,line,message", BAD_LINES, ids=[f"{f}:{m[:30]}" for f, _, m in BAD_LINES])
def test_a_bad_line_names_file_line_and_fault_and_lenient_loading_skips_it(tmp_path, filename, line, message):
    good = f"Good.Sig-1:0:*:{hexof(b'still-loaded')}\n"
    (tmp_path / "good.ndb").write_text(good)
    bad = tmp_path / filename
    bad.write_text(f"# line 1 is a comment\n{line}\n")
    with pytest.raises(DatabaseError) as err:
        Database.load(tmp_path, cache=False)
    assert str(err.value).startswith(f"{bad}:2: ")
    assert message in str(err.value)
    lenient = Database.load(tmp_path, cache=False, strict=False)
    assert lenient.bad_lines == 1 and lenient.problems == [str(err.value)]
    assert lenient.match(b"is still-loaded") == [("Good.Sig-1", 15)]


def test_lenient_loading_counts_every_bad_line_and_logs_them(caplog):
    files = {"x.ndb": "A:0:*:zz\nB:0:*:6162\x00\nC:0:*:6162636465\nD:9\n".encode() + b"E:0:*:\xff\xfe\n"}
    with pytest.raises(DatabaseError, match=r"x.ndb:1: "):
        Database.from_files(files)
    with caplog.at_level("WARNING", logger="avgate.database"):
        db = Database.from_files(files, strict=False)
    assert db.bad_lines == 4 and db.signature_count == 1
    assert [p.split(": ")[0] for p in db.problems] == ["x.ndb:1", "x.ndb:2", "x.ndb:4", "x.ndb:5"]
    assert db.problems[3].endswith("not UTF-8 text")


def test_unsupported_kinds_are_counted_never_silently_dropped():
    db = Database.from_files({
        "x.ndb": "\n".join([
            f"Html-1:3:*:{hexof(b'html-thing')}",
            f"Mail-1:4:*:{hexof(b'mail-thing')}",
            f"Ep-1:1:EP+10:{hexof(b'entry-point')}",
            f"Sect-1:1:S2+4,10:{hexof(b'section')}",
            f"Boundary-1:0:*:(B){hexof(b'word-start')}",
            f"Future-1:0:*:{hexof(b'future-engine')}:999",
            f"Past-1:0:*:{hexof(b'past-engine')}:1:20",
            f"Weird-1:42:*:{hexof(b'weird-type')}",
            f"Loaded-1:0:*:{hexof(b'this-one-loads')}",
        ]) + "\n",
        "main.ldb": "Logical-1;Target:0;0;616263\nLogical-2;Target:0;0;646566\n",
        "main.mdb": f"1024:{MD5}:Section-1\n",
        "bytecode.cbc": b"ClamBC\x00...",
        "rules.yar": "rule one { condition: true }\nrule two { condition: false }\n",
    })
    assert db.signature_count == 1 and db.counts == {"ndb": 1}
    assert db.unsupported == {
        "ndb: target type 3 (HTML, needs a normaliser)": 1,
        "ndb: target type 4 (mail, needs a normaliser)": 1,
        "ndb: offsets relative to the entry point or sections (need the PE/ELF parser)": 2,
        "ndb: (B) boundary anchors": 1,
        "functionality level outside this engine's": 2,
        "ndb: target type 42 (unknown)": 1,
        "ldb (logical signatures)": 2,
        "mdb (PE section hashes)": 1,
        "cbc (bytecode)": 1,
        "yar (YARA rules)": 2,
    }
    assert db.match(b"html-thing this-one-loads") == [("Loaded-1", 25)]


@pytest.mark.parametrize("levels,loaded", [("", True), (":216", True), (":217", False), (":1:216", True),
                                           (":1:215", False), (":100:", True)])
def test_functionality_levels_select_signatures_as_clamav_1_4_does(levels, loaded):
    db = Database.from_files({"f.ndb": f"Level-1:0:*:{hexof(b'levelled-signature')}{levels}\n"})
    assert bool(db.match(b"levelled-signature")) is loaded
    assert db.unsupported == ({} if loaded else {"functionality level outside this engine's": 1})


def anchors(db: Database) -> list[bytes]:
    tables = {k[len("stream.m."):]: v for k, v in db._arrays.items() if k.startswith("stream.m.")}
    matcher = avgate.Matcher.from_arrays(tables)
    return [matcher.pattern(i) for i in range(len(matcher))]


def test_anchors_are_the_longest_rare_enough_stretch_else_the_rarest():
    text = b"a sixteen-byte text"
    db = Database.from_files({"a.ndb": "\n".join([
        f"Long-1:0:*:c3a7e1f0{{0-8}}{text.hex()}",  # a rare 4-byte stretch loses to a long, rare-enough one
        f"Rare-1:0:*:{bytes(24).hex()}??c3a7e1f0",  # 24 zero bytes are too common to anchor on
        f"Split-1:0:*:{b'first-part'.hex()}*{b'second-part'.hex()}",  # each part has its own anchor
    ]) + "\n"})
    assert anchors(db) == [text, bytes.fromhex("c3a7e1f0"), b"first-part", b"second-part"]
    assert db.match(b"\xc3\xa7\xe1\xf0....a sixteen-byte text") == [("Long-1", 27)]


# ---- file types ---------------------------------------------------------------------------


def test_type_restricted_signatures_need_their_file_type_at_the_node_start():
    db = Database.from_files({"t.ndb": "\n".join([
        f"Pe-1:1:*:{hexof(b'pe-only-marker')}",
        f"Elf-1:6:*:{hexof(b'elf-only-marker')}",
        f"Pdf-1:10:*:{hexof(b'pdf-only-marker')}",
        f"Ascii-1:7:*:{hexof(b'ascii-marker')}",
    ]) + "\n"})
    def end(data: bytes, marker: bytes) -> int:
        return data.index(marker) + len(marker)

    pe = b"MZ\x90\x00 pe-only-marker elf-only-marker ascii-marker"
    assert db.match(pe) == [("Pe-1", end(pe, b"pe-only-marker")), ("Ascii-1", end(pe, b"ascii-marker"))]
    elf = b"\x7fELF pe-only-marker elf-only-marker"
    assert db.match(elf) == [("Elf-1", end(elf, b"elf-only-marker"))]
    pdf = b"junk" * 100 + b"%PDF-1.7 pdf-only-marker"
    assert db.match(pdf) == [("Pdf-1", len(pdf))]
    assert db.match(b"x" * 1024 + b"%PDF-1.7 pdf-only-marker") == []  # "%PDF-" only counts in the first KiB
    # fed byte by byte, a match may complete before the head decides: it waits for it
    assert db.match([bytes([b]) for b in b"MZpe-only-marker"]) == [("Pe-1", 16)]
    assert db.match([b"%", b"PDF-pdf-only-marker", b" and more"]) == [("Pdf-1", 20)]
    assert db.match([b"M", b"pe-only-marker"]) == []


# ---- the node scanner ---------------------------------------------------------------------


def test_body_matches_come_from_the_feed_that_completes_them_and_eof_ones_from_finish():
    db = Database.from_files({"n.ndb": f"Early-1:0:*:{hexof(b'early-marker')}\nLate-1:0:EOF-4:{hexof(b'tail')}\n"})
    node = db.node_scanner()
    assert node.feed(b"...early-mar") == []
    assert node.feed(b"ker...") == [("Early-1", 15)]
    assert node.feed(b"tail") == []
    assert node.finish() == [("Late-1", 22)]
    assert node.finish() == []
    with pytest.raises(RuntimeError, match="feed.. after finish"):
        node.feed(b"more")


def test_nodes_are_independent_and_a_database_is_shared_by_threads():
    db = Database.default()
    inputs = [bytes([i]) * 5000 + (EICAR if i % 3 == 0 else b"clean") + bytes(3000) for i in range(24)]
    want = [db.match(data) for data in inputs]
    got: dict[int, list] = {}

    def work(k: int) -> None:
        for i in range(k, len(inputs), 4):
            data = inputs[i]
            got[i] = db.match([data[j : j + 997] for j in range(0, len(data), 997)])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(len(inputs))] == want
    assert sum(1 for w in want if w) == 8


def test_many_anchor_hits_that_never_complete_stay_cheap():
    # the anchor occurs every 16 bytes across 8 MiB; the rest of the signature never follows
    db = Database.from_files({"a.ndb": f"Never-1:0:*:{hexof(b'ANCHOR')}{{0-8}}{hexof(b'NEVER')}*{hexof(b'TAIL')}\n"})
    block = (b"ANCHOR" + b"." * 10) * 65536
    node = db.node_scanner()
    for _ in range(8):
        assert node.feed(block) == []
    assert node.finish() == []


# ---- the default database ------------------------------------------------------------------

SHIPPED_SAMPLES = {
    "Avgate.Test.Literal-1": (b"AVGATE-TEST-SIGNATURE-LITERAL-7f3c", b"AVGATE-TEST-SIGNATURE-LITERAL-7f3"),
    "Avgate.Test.Wildcards-1": (b"AVGATE-TEST-WILDCARDS-Q1234-END-7f3c", b"AVGATE-TEST-WILDCARDS-Q1-END-7f3c"),
    "Avgate.Test.Alternatives-1": (b"AVGATE-TEST-ALTERNATIVES-NOK-y-7f3c", b"AVGATE-TEST-ALTERNATIVES-OK-x-7f3c"),
    "Avgate.Test.Nibbles-1": (b"AVGATE-TEST-NIBBLES-5d-7f3c", b"AVGATE-TEST-NIBBLES-ad-7f3c"),
    "Avgate.Test.Split-1": (b"AVGATE-TEST-SPLIT-HEAD-7f3c" + bytes(5000) + b"AVGATE-TEST-SPLIT-TAIL-7f3c",
                            b"AVGATE-TEST-SPLIT-TAIL-7f3c AVGATE-TEST-SPLIT-HEAD-7f3c"),
    "Avgate.Test.EOF-1": (bytes(100) + b"AVGATE-TEST-EOF-7f3c" + b"12345678901", b"AVGATE-TEST-EOF-7f3c" + bytes(40)),
}


def test_the_default_database_detects_eicar_by_body_and_by_each_hash():
    db = Database.default()
    assert db.match(EICAR) == [("Win.Test.EICAR_NDB-1", 68), ("Win.Test.EICAR_HDB-1", None)]
    for hash_file in ("eicar.hdb", "eicar.hsb"):
        alone = Database.load(default_database_dir() / hash_file)
        assert alone.match(EICAR) == [("Win.Test.EICAR_HDB-1", None)]
        assert alone.match(EICAR + b"\n") == []
    assert Database.load(default_database_dir() / "eicar.hsb").info()["hashes"] == {"sha256": 1}


@pytest.mark.parametrize("name", sorted(SHIPPED_SAMPLES))
def test_the_shipped_test_signatures_match_their_samples_and_not_near_misses(name):
    db = Database.default()
    hit, miss = SHIPPED_SAMPLES[name]
    assert names(db.match(hit)) == {name}
    assert db.match(miss) == []


def test_scanning_the_signature_files_themselves_finds_nothing():
    db = Database.default()
    for path in sorted(default_database_dir().iterdir()):
        if path.is_file():
            assert db.match(path.read_bytes()) == [], path


@pytest.mark.skipif(shutil.which("clamscan") is None, reason="clamscan (Debian package clamav) not installed")
def test_clamscan_agrees_on_the_shipped_database(tmp_path):
    samples = {"eicar.com": EICAR}
    for name, (hit, miss) in SHIPPED_SAMPLES.items():
        samples[f"{name}.hit"] = hit
        samples[f"{name}.miss"] = miss
    for file, data in samples.items():
        (tmp_path / file).write_bytes(data)
    run = subprocess.run(["clamscan", "--no-summary", "-d", str(default_database_dir()), str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    theirs = {}
    for line in run.stdout.splitlines():
        path, _, verdict = line.rpartition(": ")
        theirs[path.rsplit("/", 1)[-1]] = None if verdict == "OK" else verdict.removesuffix(" FOUND")
    db = Database.default()
    ours = {file: (db.match(data)[0][0] + ".UNOFFICIAL" if db.match(data) else None) for file, data in samples.items()}
    assert ours == theirs
