"""E-mail: MIME parts decoded from every transfer encoding, attachments and
attached messages walked as layers, mbox files message by message."""
from __future__ import annotations

import base64
import email.message
import email.policy

import pytest

import avgate
from avgate.mime_sections import Cursor, SectionReader, Terminators
from content_fixtures import (
    found, reasons, CLEAN, EICAR, EICAR_HDB, EICAR_NDB, LITERAL, LITERAL_NAME, forward, mail_with_attachment, mbox,
    tar_bytes, text_mail_with_uuencoded, zip_bytes,
)
from hypothesis import given, settings, strategies as st


@pytest.fixture(scope="module")
def engine() -> avgate.Engine:
    return avgate.Engine(all_matches=True)




@pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "uuencode"])
def test_infected_attachment_in_each_encoding(engine: avgate.Engine, encoding: str) -> None:
    message = mail_with_attachment(EICAR, "payload.exe", encoding)
    if encoding != "quoted-printable":
        assert EICAR not in message  # only the decoder can see it
    result = engine.scan_bytes(message, "mail.eml")
    assert (EICAR_HDB, "mail.eml//payload.exe") in found(result), result
    assert result.errors == []
    assert result.stats.max_layer == 1


def test_seven_bit_text_attachment(engine: avgate.Engine) -> None:
    result = engine.scan_bytes(mail_with_attachment(EICAR, "eicar.txt", "7bit"), "m.eml")
    assert (EICAR_NDB, "m.eml//eicar.txt") in found(result)


def test_the_issue_example_path(engine: avgate.Engine) -> None:
    docs = tar_bytes({"readme.txt": CLEAN, "payload.exe": EICAR})
    import gzip

    invoice = zip_bytes({"docs.tar.gz": gzip.compress(docs)})
    result = engine.scan_bytes(mail_with_attachment(invoice, "invoice.zip"), "mail.eml")
    assert (EICAR_HDB, "mail.eml//invoice.zip//docs.tar.gz//payload.exe") in found(result)
    # mail 0, invoice.zip 1, docs.tar.gz 2, decoded tar 3, payload.exe 4
    assert result.stats.max_layer == 4


def test_plain_text_body_with_uuencoded_file(engine: avgate.Engine) -> None:
    result = engine.scan_bytes(text_mail_with_uuencoded(EICAR, "old.exe"), "old.eml")
    assert (EICAR_HDB, "old.eml//part-1//old.exe") in found(result)
    assert result.stats.max_layer == 2


def test_uuencoded_file_past_the_layer_limit(engine: avgate.Engine) -> None:
    shallow = avgate.Engine(profile=avgate.Profile(decompress_layer_limit=1), all_matches=True)
    result = shallow.scan_bytes(text_mail_with_uuencoded(EICAR, "old.exe"), "old.eml")
    assert reasons(result) == [("decompress-layer", "old.eml//part-1//old.exe")]


def test_attached_message_is_a_layer(engine: avgate.Engine) -> None:
    inner = mail_with_attachment(zip_bytes({"payload.exe": EICAR}), "invoice.zip")
    result = engine.scan_bytes(forward(inner), "fwd.eml")
    assert (EICAR_HDB, "fwd.eml//part-2//invoice.zip//payload.exe") in found(result)
    assert result.stats.max_layer == 3


def test_mbox_of_several_messages(engine: avgate.Engine) -> None:
    messages = [mail_with_attachment(CLEAN, f"file{i}.txt", subject=f"m{i}") for i in range(4)]
    messages.insert(2, mail_with_attachment(EICAR, "payload.exe"))
    result = engine.scan_bytes(mbox(messages), "inbox")
    assert found(result) >= {(EICAR_HDB, "inbox//message-3//payload.exe")}
    paths = {d.path for d in result.detections}
    assert all(p.startswith("inbox//message-3") for p in paths)
    assert result.errors == []
    assert result.stats.files == 1 + 5 * 3  # the mbox, each message, its text part and attachment


def test_mbox_with_from_inside_a_body_is_not_split(engine: avgate.Engine) -> None:
    body = b"From: a@b\nSubject: s\n\nhello\n>From the escaped line\nbye\n"
    result = engine.scan_bytes(mbox([body, body]), "box")
    assert result.stats.files == 1 + 2 * 2


def test_rfc2231_and_encoded_word_filenames() -> None:
    msg = email.message.EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "names"
    msg.set_content("x")
    msg.add_attachment(EICAR, maintype="application", subtype="octet-stream", filename="Rechnung_März.exe")
    result = avgate.Engine().scan_bytes(msg.as_bytes(), "m.eml")
    assert result.detections[0].path == "m.eml//Rechnung_März.exe"


def test_part_without_filename_is_named_by_section_number(engine: avgate.Engine) -> None:
    outer = email.message.EmailMessage()
    outer["From"] = "a@example.com"
    outer["Subject"] = "nested"
    outer.make_mixed()
    alternative = email.message.EmailMessage()
    alternative.set_content("text")
    alternative.add_alternative(base64.b64encode(EICAR).decode(), subtype="html")
    outer.attach(alternative)
    blob = email.message.EmailMessage()
    blob.set_content(EICAR, maintype="application", subtype="octet-stream", cte="base64")
    outer.attach(blob)
    result = engine.scan_bytes(outer.as_bytes(), "n.eml")
    assert (EICAR_HDB, "n.eml//part-2") in found(result)
    assert result.stats.max_layer == 1  # multiparts are structure, not layers


def test_missing_closing_boundary_is_corrupt_and_parts_still_scanned(engine: avgate.Engine) -> None:
    message = mail_with_attachment(EICAR, "payload.exe")
    cut = message[: message.rstrip().rfind(b"\n")]  # drop the closing delimiter line
    result = engine.scan_bytes(cut, "cut.eml")
    assert reasons(result) == [("corrupt-file", "cut.eml")]
    assert (EICAR_HDB, "cut.eml//payload.exe") in found(result)
    assert result.decision.action == "block"


def test_truncated_base64_is_corrupt_and_the_rest_decoded(engine: avgate.Engine) -> None:
    message = mail_with_attachment(CLEAN + LITERAL + CLEAN, "doc.bin")
    start = message.index(b"Content-Disposition: attachment")
    body = message.index(b"\n\n", start) if b"\n\n" in message[start:] else message.index(b"\r\n\r\n", start)
    encoded_end = message.index(b"--", body)
    # leave the base64 text one character past a quantum
    text = message[body:encoded_end].replace(b"\r\n", b"").replace(b"\n", b"").strip()
    keep = len(text) - len(text) % 4 - 3
    damaged = message[:body] + b"\r\n\r\n" + text[:keep] + b"\r\n" + message[encoded_end:]
    result = engine.scan_bytes(damaged, "t.eml")
    assert reasons(result) == [("corrupt-file", "t.eml//doc.bin")]
    assert (LITERAL_NAME, "t.eml//doc.bin") in found(result)


def test_base64_with_junk_and_concatenated_runs(engine: avgate.Engine) -> None:
    half = len(EICAR) // 3
    first = base64.b64encode(EICAR[:half])  # padded: a2b_base64 alone would stop here
    second = base64.b64encode(EICAR[half:])
    body = first + b"\r\n!*! ~~\t!\r\n" + second  # not in the alphabet: skipped
    message = (b"From: a@b\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n")
    assert first.endswith(b"=")
    result = engine.scan_bytes(message, "j.eml")
    assert (EICAR_HDB, "j.eml//part-1") in found(result)


def test_text_that_only_looks_like_a_header_is_data(engine: avgate.Engine) -> None:
    result = engine.scan_bytes(b"Note: this is a memo\nnothing else here\n" + EICAR, "memo.txt")
    assert found(result) == {(EICAR_NDB, "memo.txt")}
    assert result.stats.files == 1


def test_deep_multipart_nesting_is_bounded(engine: avgate.Engine) -> None:
    depth = 30
    parts = [b"From: a@b\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"]
    for i in range(depth):
        parts.append(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode())
    parts.append(b"Content-Type: text/plain\r\n\r\n" + LITERAL + b"\r\n")
    for i in reversed(range(depth)):
        parts.append(f"--b{i}--\r\n".encode())
    result = engine.scan_bytes(b"".join(parts), "deep.eml")
    assert ("decompress-layer", "deep.eml") in reasons(result)
    assert (LITERAL_NAME, "deep.eml") in found(result)


def test_malformed_headers_do_not_break_the_walk(engine: avgate.Engine) -> None:
    message = (b"From: a@b\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=\"=?utf-8?q?bad\r\n\r\n"
               b"--=?utf-8?q?bad\r\nContent-Type: ;;;\r\nContent-Disposition: attachment; filename*=bogus''%ZZ\r\n"
               b"\r\n" + EICAR + b"\r\n--=?utf-8?q?bad--\r\n")
    result = engine.scan_bytes(message, "bad.eml")
    assert EICAR_NDB in {d.name for d in result.detections}


# -- the section reader: same parts however the stream is cut ---------------------------------


class _Pieces:
    volatile = False

    def __init__(self, data: bytes, cuts: list[int]) -> None:
        points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
        self.blocks = [data[a:b] for a, b in zip(points, points[1:])]

    def read(self) -> bytes:
        return self.blocks.pop(0) if self.blocks else b""


def _sections(data: bytes, cuts: list[int], boundary: bytes) -> list[bytes]:
    cursor = Cursor(_Pieces(data, cuts))
    terms = Terminators((boundary,))
    out = []
    while True:
        reader = SectionReader(cursor, terms)
        chunks = []
        while True:
            span = reader.read()
            if not span:
                break
            chunks.append(span)
        out.append(b"".join(chunks))
        if reader.ended is None or reader.ended.closing:
            return out
        cursor.readline()


@settings(max_examples=200, deadline=None)
@given(
    bodies=st.lists(st.binary(max_size=60).filter(lambda b: b"--B" not in b and b"\r" not in b), min_size=1,
                    max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    crlf=st.booleans(),
)
def test_section_reader_is_independent_of_block_boundaries(bodies: list[bytes], cuts: list[int], crlf: bool) -> None:
    nl = b"\r\n" if crlf else b"\n"
    data = b"preamble" + nl + b"".join(b"--B" + nl + body + nl for body in bodies) + b"--B--" + nl
    expected = [b"preamble"] + bodies
    assert _sections(data, cuts, b"B") == expected


@pytest.mark.parametrize("declared", ["text/plain", "message/rfc822", "image/png"])
def test_declared_type_does_not_hide_an_archive(engine: avgate.Engine, declared: str) -> None:
    maintype, subtype = declared.split("/")
    msg = email.message.EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "disguised"
    msg.set_content("see attached")
    msg.add_attachment(zip_bytes({"payload.exe": EICAR}), maintype="application", subtype="octet-stream",
                       filename="notes.txt")
    msg.get_payload()[1].replace_header("Content-Type", f'{declared}; name="notes.txt"')
    result = engine.scan_bytes(msg.as_bytes(), "d.eml")
    assert (EICAR_HDB, "d.eml//notes.txt//payload.exe") in found(result)
