"""notify.render: each protocol, each notification type, mail part
replacement, e-mail notices delivered to a real SMTP server on loopback."""
from __future__ import annotations

import logging
import socket
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from aiosmtpd.controller import Controller

from avgate.notify import DEFAULT_TAGS, MAIL_PROTOCOLS, PROTOCOLS, NotifyContext, Relay, render
from avgate.policy import decide
from avgate.profile import Notice, Profile
from avgate.result import Detection, Problem, ScanResult

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
THREAT = "Win.Test.EICAR_HDB-1"

ERROR_STATUS = {
    "http": (403, "403 Forbidden"),
    "ftp": (550, "550 "),
    "smtp": (554, "554 5.7.1 "),
    "pop3": (None, "-ERR "),
    "imap": (None, "NO "),
}
SUCCESS_STATUS = {
    "http": (200, "200 OK"),
    "ftp": (226, "226 Transfer complete"),
    "smtp": (250, "250 2.0.0 OK"),
    "pop3": (None, "+OK"),
    "imap": (None, "OK"),
}


def profile_with(**blocks: Notice) -> Profile:
    return Profile(notifications={k.replace("_", "-"): v for k, v in blocks.items()})


def virus_decision(profile: Profile, path: str = "mail.eml//eicar.com"):
    return decide(ScanResult(path=path.split("//")[0], detections=[Detection(THREAT, path)]), profile)


def fallback_decision(profile: Profile, reason: str = "timeout", path: str = "mail.eml//big.iso"):
    r = ScanResult(path=path.split("//")[0], errors=[Problem(reason, path, "scan time limit of 0.2 s exceeded")])
    return decide(r, profile)


def original_mail(crlf: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.org>"
    msg["To"] = "bob@example.net, Carol <carol@example.net>"
    msg["Cc"] = "dave@example.net"
    msg["Subject"] = "Quarterly report"
    msg["Message-ID"] = "<orig-1@example.org>"
    msg.set_content("Hello Bob,\nthe report is attached.\n")
    msg.add_attachment(EICAR, maintype="application", subtype="octet-stream", filename="eicar.com")
    msg.add_attachment(b"%PDF-1.4 clean report " * 50, maintype="application", subtype="pdf", filename="report.pdf")
    return msg.as_bytes(policy=policy.SMTP if crlf else policy.default)


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


# -- protocol-only: each protocol's error ------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_protocol_only_virus_is_the_protocols_error(protocol):
    decision = virus_decision(profile_with(virus_detection=Notice(type="protocol-only")))
    response = render(decision, protocol)
    code, status = ERROR_STATUS[protocol]
    assert (response.outcome, response.code, response.action) == ("error", code, "block")
    assert response.status.startswith(status)
    if protocol == "http":
        assert response.content == f"Forbidden: virus {THREAT} found\n".encode()
    else:
        assert response.status.endswith(f"virus {THREAT} found")
        assert response.content is None
    assert "\n" not in response.status and "\r" not in response.status


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_protocol_only_fallback_block_names_the_reason(protocol):
    decision = fallback_decision(profile_with(fallback_block=Notice(type="protocol-only")))
    response = render(decision, protocol)
    assert response.outcome == "error"
    assert response.code == ERROR_STATUS[protocol][0]
    text = response.status + (response.content or b"").decode()
    assert "content not scanned (timeout)" in text


def test_status_lines_cannot_be_forged_by_scanned_names():
    r = ScanResult(path="x", detections=[Detection("Evil\r\n250 2.0.0 OK\r\nRCPT TO:<x>", "x")])
    decision = decide(r, profile_with(virus_detection=Notice(type="protocol-only")))
    status = render(decision, "smtp").status
    assert status.startswith("554 5.7.1 virus Evil??250 2.0.0 OK??RCPT")
    assert "\r" not in status and "\n" not in status
    protocol_only = profile_with(virus_detection=Notice(type="protocol-only"))
    long = decide(ScanResult(path="x", detections=[Detection("ä" * 500, "x")]), protocol_only)
    status = render(long, "pop3").status
    assert status.isascii() and len(status) <= 205 and status.endswith("...")


def test_imap_status_carries_the_command_tag():
    decision = virus_decision(profile_with(virus_detection=Notice(type="protocol-only")))
    assert render(decision, "imap", {"imap_tag": "A017"}).status == f"A017 NO virus {THREAT} found"
    assert render(decide(ScanResult(path="m"), Profile()), "imap", {"imap_tag": "A018"}).status == "A018 OK"


# -- message: success code and replacement content -----------------------------


@pytest.mark.parametrize("protocol", ["http", "ftp"])
def test_message_type_replaces_the_file_with_a_default_notice(protocol):
    response = render(virus_decision(Profile(), path="setup.exe"), protocol, NotifyContext(file="setup.exe"))
    code, status = SUCCESS_STATUS[protocol]
    assert (response.outcome, response.code, response.status) == ("replace", code, status)
    assert response.content == f"avgate removed setup.exe: it contains the virus {THREAT}.\n".encode()
    assert response.content_type == "text/plain; charset=utf-8"


@pytest.mark.parametrize("protocol", ["http", "ftp"])
def test_message_type_uses_the_custom_message(protocol):
    profile = profile_with(fallback_block=Notice(custom_message="Das Archiv wurde blockiert."))
    response = render(fallback_decision(profile, "decompress-layer", "a.zip//b.zip"), protocol)
    assert response.outcome == "replace"
    assert response.content == "Das Archiv wurde blockiert.\n".encode()


def test_message_type_default_fallback_text_names_file_and_reason():
    response = render(fallback_decision(Profile(), "timeout", "big.iso"), "http")
    text = response.content.decode()
    assert text.startswith("avgate blocked big.iso: it could not be scanned: timeout")
    assert "scan time limit of 0.2 s exceeded" in text


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("action", ["permit", "log-and-permit"])
def test_permitted_content_passes_with_success(protocol, action):
    profile = Profile(fallback={"timeout": action})
    response = render(fallback_decision(profile), protocol)
    assert (response.outcome, response.content, response.action) == ("pass", None, action)
    assert (response.code, response.status) == SUCCESS_STATUS[protocol]
    assert response.mails == []
    clean = render(decide(ScanResult(path="f"), profile), protocol)
    assert (clean.outcome, clean.action) == ("pass", "permit")


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="unknown protocol 'gopher'"):
        render(decide(ScanResult(path="f"), Profile()), "gopher")


# -- mail: the infected part is replaced, the rest kept -----------------------


@pytest.mark.parametrize("protocol", MAIL_PROTOCOLS)
def test_mail_message_replaces_only_the_infected_part(protocol):
    raw = original_mail()
    response = render(virus_decision(Profile()), protocol, NotifyContext(message=raw))
    assert response.outcome == "replace"
    assert (response.code, response.status) == SUCCESS_STATUS[protocol]
    assert response.content_type == "message/rfc822"
    assert b"\r\n" in response.content  # the wire's line endings are kept
    before, after = parse(raw), parse(response.content)
    for header in ("From", "To", "Cc", "Subject", "Message-ID"):
        assert after[header] == before[header]
    old_parts = [p for p in before.walk() if not p.is_multipart()]
    new_parts = [p for p in after.walk() if not p.is_multipart()]
    assert len(new_parts) == len(old_parts) == 3
    assert new_parts[0].get_content() == old_parts[0].get_content()  # the body text, CRLF as sent
    assert new_parts[2].get_filename() == "report.pdf"
    assert new_parts[2].get_content() == old_parts[2].get_content()  # the clean attachment
    notice = new_parts[1]
    assert notice.get_content_type() == "text/plain"
    assert notice.get_content() == f"avgate removed eicar.com: it contains the virus {THREAT}.\r\n"
    assert EICAR not in response.content


def test_mail_replacement_with_custom_message_and_lf_input():
    profile = profile_with(virus_detection=Notice(custom_message="Attachment removed by policy."))
    response = render(virus_decision(profile), "smtp", NotifyContext(message=original_mail(crlf=False)))
    assert b"\r\n" not in response.content
    parts = [p for p in parse(response.content).walk() if not p.is_multipart()]
    assert parts[1].get_content() == "Attachment removed by policy.\n"


def test_mail_fallback_block_replaces_the_unscannable_part():
    response = render(fallback_decision(Profile(), "timeout", "mail.eml//report.pdf"), "pop3",
                      NotifyContext(message=original_mail()))
    parts = [p for p in parse(response.content).walk() if not p.is_multipart()]
    assert parts[1].get_filename() == "eicar.com"  # untouched: only report.pdf was blocked
    assert parts[2].get_content().startswith("avgate blocked report.pdf: it could not be scanned: timeout")


def test_mail_without_a_named_part_replaces_the_whole_body():
    # the detection is in the message itself: no part can be singled out
    response = render(virus_decision(Profile(), path="mail.eml"), "imap", NotifyContext(message=original_mail()))
    after = parse(response.content)
    assert after["Subject"] == "Quarterly report" and after["From"] == "Alice <alice@example.org>"
    assert not after.is_multipart()
    assert after.get_content() == f"avgate removed mail.eml: it contains the virus {THREAT}.\r\n"
    assert EICAR not in response.content


def test_mail_parts_without_filenames_are_named_by_mime_section():
    # the way the content walk names them: part-<section>, nested as part-1.2
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.net", "alternatives"
    msg.set_content("plain body " + EICAR.decode())
    msg.add_alternative("<p>html body</p>", subtype="html")
    msg.add_attachment(b"clean bytes", maintype="application", subtype="octet-stream", filename="data.bin")
    forwarded = EmailMessage()
    forwarded["Subject"] = "fwd"
    forwarded.set_content("forwarded body")
    msg.add_attachment(forwarded)
    raw = msg.as_bytes()
    decision = virus_decision(Profile(), path="m.eml//part-1.1")
    parts = [p for p in parse(render(decision, "smtp", NotifyContext(message=raw)).content).walk()
             if not p.is_multipart()]
    assert parts[0].get_content() == f"avgate removed part-1.1: it contains the virus {THREAT}.\n"
    assert parts[1].get_content() == "<p>html body</p>\n"  # its alternative is kept
    assert parts[2].get_filename() == "data.bin"
    # an attached message is one part (section 3), replaced whole
    decision = virus_decision(Profile(), path="m.eml//part-3//part-1")
    after = parse(render(decision, "imap", NotifyContext(message=raw)).content)
    kinds = [p.get_content_type() for p in after.iter_parts()]
    assert kinds == ["multipart/alternative", "application/octet-stream", "text/plain"]
    assert b"forwarded body" not in after.as_bytes()


def test_mail_part_filenames_match_the_walks_spelling():
    msg = EmailMessage()
    msg["Subject"] = "odd names"
    msg.set_content("body")
    msg.add_attachment(EICAR, maintype="application", subtype="octet-stream", filename=" a//b.com ")
    decision = virus_decision(Profile(), path="m.eml//a/b.com")  # the walk collapses // and strips
    parts = [p for p in parse(render(decision, "pop3", NotifyContext(message=msg.as_bytes())).content).walk()
             if not p.is_multipart()]
    assert parts[0].get_content() == "body\n"
    assert parts[1].get_content().startswith("avgate removed a/b.com")


def test_mail_without_the_original_becomes_a_standalone_notice():
    response = render(virus_decision(Profile()), "smtp", NotifyContext(recipients=["bob@example.net"]))
    notice = parse(response.content)
    assert notice["Subject"] == DEFAULT_TAGS["virus-detection"]
    assert notice["To"] == "bob@example.net"
    assert THREAT in notice.get_content()


# -- e-mail notices -----------------------------------------------------------


def test_sender_notice_for_a_virus():
    profile = profile_with(virus_detection=Notice(notify_mail_sender=True, custom_message_subject="[VIRUS ALERT]"))
    response = render(virus_decision(profile), "smtp",
                      NotifyContext(message=original_mail(), notice_from="av@gw.example.com"))
    (mail,) = response.mails
    assert mail["To"] == "alice@example.org"
    assert mail["From"] == "av@gw.example.com"
    assert mail["Subject"] == "[VIRUS ALERT] Quarterly report"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["In-Reply-To"] == "<orig-1@example.org>"
    assert mail["Message-ID"].endswith("@gw.example.com>")
    body = mail.get_content()
    assert f"avgate removed eicar.com: it contains the virus {THREAT}." in body
    assert f"Threat: {THREAT}" in body and "File: eicar.com" in body and "Action: block" in body
    assert "> From: Alice <alice@example.org>" in body
    assert "> Subject: Quarterly report" in body
    assert "> Message-ID: <orig-1@example.org>" in body
    assert response.delivered == []  # no relay in the context: built, not sent


def test_sender_notice_for_fallback_block_uses_envelope_sender():
    profile = profile_with(fallback_block=Notice(type="protocol-only", notify_mail_sender=True,
                                                 custom_message="Your message could not be scanned."))
    response = render(fallback_decision(profile), "smtp",
                      NotifyContext(message=original_mail(), sender="bounce+123@example.org"))
    assert response.outcome == "error" and response.status.startswith("554 5.7.1")
    (mail,) = response.mails
    assert mail["To"] == "bounce+123@example.org"
    assert mail["Subject"] == f"{DEFAULT_TAGS['fallback-block']} Quarterly report"
    body = mail.get_content()
    assert body.startswith("Your message could not be scanned.")
    assert "Reason: timeout (scan time limit of 0.2 s exceeded)" in body


def test_recipient_notice_for_log_and_permit():
    profile = Profile(notifications={"fallback-non-block": Notice(
        notify_mail_recipient=True, custom_message="This message was not fully scanned.",
        custom_message_subject="[UNSCANNED]")})
    decision = fallback_decision(profile, "corrupt-file", "mail.eml//report.pdf")
    assert decision.action == "log-and-permit"
    response = render(decision, "imap", NotifyContext(message=original_mail()))
    assert response.outcome == "pass" and response.content is None
    (mail,) = response.mails
    assert mail["To"] == "bob@example.net, carol@example.net, dave@example.net"
    assert mail["Subject"] == "[UNSCANNED] Quarterly report"
    assert mail.get_content().startswith("This message was not fully scanned.")
    # the custom message of fallback-non-block is for mail only
    assert render(decision, "http").content is None


def test_no_notice_without_the_option_a_sender_or_for_web_protocols():
    assert render(virus_decision(Profile()), "smtp", NotifyContext(message=original_mail())).mails == []
    profile = profile_with(virus_detection=Notice(notify_mail_sender=True))
    assert render(virus_decision(profile), "http", NotifyContext(sender="a@example.org")).mails == []
    # a bounce (null sender) never gets a notice: no mail loops
    assert render(virus_decision(profile), "smtp", NotifyContext(sender="<>")).mails == []
    assert render(virus_decision(profile), "smtp", NotifyContext()).mails == []


# -- delivery through a real SMTP server ---------------------------------------


class Collect:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.envelopes.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, Relay("127.0.0.1", controller.port, timeout=5)
    finally:
        controller.stop()


def test_notices_are_delivered_through_the_relay(smtp_server):
    handler, relay = smtp_server
    profile = profile_with(virus_detection=Notice(notify_mail_sender=True, custom_message_subject="[VIRUS]"))
    response = render(virus_decision(profile), "smtp", NotifyContext(message=original_mail(), relay=relay))
    assert response.delivered == ["alice@example.org"] and response.delivery_errors == []
    deadline = time.monotonic() + 5
    while not handler.envelopes and time.monotonic() < deadline:
        time.sleep(0.01)
    (envelope,) = handler.envelopes
    assert envelope.mail_from == "<>"  # aiosmtpd's spelling of the null reverse-path
    assert envelope.rcpt_tos == ["alice@example.org"]
    received = parse(envelope.original_content)
    assert received["Subject"] == "[VIRUS] Quarterly report"
    assert received["Auto-Submitted"] == "auto-replied"
    assert "> Subject: Quarterly report" in received.get_content()


def test_a_dead_relay_is_reported_not_raised(caplog):
    profile = profile_with(virus_detection=Notice(notify_mail_sender=True))
    with caplog.at_level(logging.ERROR, logger="avgate.notify"):
        response = render(virus_decision(profile), "smtp",
                          NotifyContext(message=original_mail(), relay=Relay("127.0.0.1", free_port(), timeout=2)))
    assert response.outcome == "replace"  # the client still gets its answer
    assert response.delivered == []
    assert len(response.delivery_errors) == 1 and "relay 127.0.0.1:" in response.delivery_errors[0]
    assert "e-mail notice not delivered" in caplog.text
