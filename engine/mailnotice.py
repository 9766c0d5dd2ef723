"""E-mail for notifications: replace blocked MIME parts with a text/plain
notice, build RFC 5322 notices to the sender or recipients, send them
through an SMTP relay.

Blocked parts are found by name, the way the content walk (mail.py) names
them: a finding's path is ``<message>//<part name>//...``
(result.PATH_SEPARATOR), and a part is named by its filename, else by its
MIME section number (``part-2.1``); an attached message is one part. When
no part can be named (the finding is the message itself), the whole body is
replaced and the headers are kept: the conservative choice, since the
blocked content must not get through.
"""
from __future__ import annotations

import logging
import smtplib
import socket
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid
from typing import Callable, Iterator, Optional, Sequence, Union

from .result import PATH_SEPARATOR

__all__ = [
    "Relay",
    "MailInput",
    "parse_message",
    "part_name",
    "replace_parts",
    "build_notice",
    "sender_of",
    "recipients_of",
    "deliver",
    "logger",
]

logger = logging.getLogger("avgate.notify")

MailInput = Union[bytes, bytearray, Message]


@dataclass(frozen=True)
class Relay:
    """The SMTP server e-mail notices are handed to."""

    host: str = "localhost"
    port: int = 25
    timeout: float = 10.0


def parse_message(original: MailInput) -> EmailMessage:
    """A private, modern-API copy of a message given as bytes or a Message."""
    data = bytes(original) if isinstance(original, (bytes, bytearray)) else original.as_bytes()
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def replace_parts(
    original: MailInput,
    findings: Sequence[tuple[str, str]],
    notice_for: Callable[[Optional[str], list[str]], str],
) -> tuple[bytes, int]:
    """The message with each blocked part replaced by a text/plain notice
    (``notice_for(filename, threats or reasons)``) and every other part and
    header kept. Returns the new message bytes and the number of parts
    replaced (0: the whole body was replaced)."""
    message = parse_message(original)
    crlf = isinstance(original, (bytes, bytearray)) and b"\r\n" in original
    blocked: dict[str, list[str]] = {}
    for path, what in findings:
        names = path.split(PATH_SEPARATOR)
        if len(names) >= 2:
            blocked.setdefault(names[1], []).append(what)
    replaced = 0
    for part, name in _named_parts(message):
        if name in blocked and part is not message:
            part.clear_content()
            part.set_content(notice_for(name, blocked[name]), disposition="inline")
            replaced += 1
    if not replaced:
        message.clear_content()  # drops the Content-* headers and the parts, keeps the rest
        message.set_content(notice_for(None, [what for _, what in findings]))
    out_policy = message.policy.clone(linesep="\r\n") if crlf else message.policy
    return message.as_bytes(policy=out_policy), replaced


def part_name(part: EmailMessage, section: str) -> str:
    """A leaf part's name in scan paths: its filename, else ``part-<section>``."""
    filename = (part.get_filename() or "").strip()
    while PATH_SEPARATOR in filename:
        filename = filename.replace(PATH_SEPARATOR, "/")
    return filename or f"part-{section or '1'}"


def _named_parts(part: EmailMessage, section: str = "") -> Iterator[tuple[EmailMessage, str]]:
    """The leaf parts with their names; a multipart is structure, an
    attached message (message/rfc822) is one leaf."""
    if part.get_content_maintype() == "multipart":
        for index, sub in enumerate(part.iter_parts(), 1):
            assert isinstance(sub, EmailMessage)
            yield from _named_parts(sub, f"{section}.{index}" if section else str(index))
    else:
        yield part, part_name(part, section)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def sender_of(message: Optional[EmailMessage]) -> list[str]:
    """The address a sender notice goes to: the message's Sender or From."""
    if message is None:
        return []
    for header in ("Sender", "From"):
        addresses = [a for _, a in getaddresses(message.get_all(header, [])) if a]
        if addresses:
            return addresses[:1]
    return []


def recipients_of(message: Optional[EmailMessage]) -> list[str]:
    if message is None:
        return []
    return [a for _, a in getaddresses(message.get_all("To", []) + message.get_all("Cc", [])) if a]


def build_notice(
    *,
    to: Sequence[str],
    from_addr: str,
    tag: str,
    text: str,
    original: Optional[EmailMessage] = None,
) -> EmailMessage:
    """An RFC 5322 notice: subject tagged, the text, then the original
    message's headers quoted so the reader can tell which message it was."""
    notice = EmailMessage()
    notice["From"] = from_addr
    notice["To"] = ", ".join(to)
    subject = _one_line(original.get("Subject", "")) if original is not None else ""
    notice["Subject"] = f"{tag} {subject}".strip()
    notice["Date"] = formatdate(localtime=True)
    notice["Message-ID"] = make_msgid(domain=from_addr.rpartition("@")[2] or None)
    notice["Auto-Submitted"] = "auto-replied"  # RFC 3834: no replies to this
    body = [text.rstrip(), ""]
    if original is not None:
        message_id = original.get("Message-ID")
        if message_id:
            notice["In-Reply-To"] = _one_line(message_id)
            notice["References"] = _one_line(message_id)
        body += ["Headers of the original message:", ""]
        body += [f"> {name}: {_one_line(value)}" for name, value in original.items()]
    notice.set_content("\n".join(body) + "\n")
    return notice


def deliver(messages: Sequence[EmailMessage], relay: Relay) -> tuple[list[str], list[str]]:
    """Send notices through the relay with a null envelope sender (as
    delivery reports are, so they cannot loop). Returns (addresses
    delivered, errors); a relay that fails is logged, never raised."""
    delivered: list[str] = []
    errors: list[str] = []
    if not messages:
        return delivered, errors
    try:
        with smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout) as smtp:
            for message in messages:
                to = [a for _, a in getaddresses(message.get_all("To", [])) if a]
                try:
                    refused = smtp.send_message(message, from_addr="", to_addrs=to)
                except smtplib.SMTPException as exc:
                    errors.append(f"{', '.join(to)}: {exc}")
                    continue
                delivered.extend(a for a in to if a not in refused)
                errors.extend(f"{a}: refused {code} {text!r}" for a, (code, text) in refused.items())
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        errors.append(f"relay {relay.host}:{relay.port}: {exc}")
    for error in errors:
        logger.error("e-mail notice not delivered: %s", error)
    return delivered, errors
