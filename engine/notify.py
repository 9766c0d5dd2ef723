"""Decision + protocol -> what the client receives (DESIGN.md, "Notification
options").

    response = notify.render(decision, "smtp", NotifyContext(message=raw, relay=Relay("mx", 25)))
    response.status       # "554 5.7.1 Message rejected: virus Win.Test.EICAR_HDB-1 found"
    response.content      # replacement content (type message), or None: pass the original

- permit / log-and-permit: the protocol's success status; the content
  passes unchanged. For mail, log-and-permit may notify the recipients
  (fallback-non-block notify-mail-recipient, with its custom message).
- block, type protocol-only: the protocol's error with a short reason:
  HTTP 403, FTP 550, SMTP 554 5.7.1, POP3 -ERR, IMAP NO.
- block, type message: a success status and replacement content: the
  custom message, or a default naming the file and the threat or reason;
  for mail the blocked part is replaced by a text/plain notice and the rest
  of the message is kept (mailnotice.replace_parts).
- For mail protocols, notify-mail-sender sends an RFC 5322 notice to the
  sender (virus-detection, fallback-block). Notices are built always and
  sent when the context names a relay.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Mapping, Optional, Sequence, Union

from .mailnotice import (
    MailInput,
    Relay,
    build_notice,
    deliver,
    parse_message,
    recipients_of,
    replace_parts,
    sender_of,
)
from .policy import VIRUS, Decision
from .profile import Notice
from .result import PATH_SEPARATOR

__all__ = ["render", "Response", "NotifyContext", "Relay", "PROTOCOLS", "MAIL_PROTOCOLS", "DEFAULT_TAGS"]

PROTOCOLS = ("http", "ftp", "smtp", "pop3", "imap")
MAIL_PROTOCOLS = ("smtp", "pop3", "imap")

# Subject tags of e-mail notices when the profile sets no custom-message-subject.
DEFAULT_TAGS = {
    "virus-detection": "[avgate: virus found]",
    "fallback-block": "[avgate: not scanned, blocked]",
    "fallback-non-block": "[avgate: not fully scanned]",
}

# (code, status) per protocol: success, and the error with "{reason}".
_SUCCESS = {
    "http": (200, "200 OK"),
    "ftp": (226, "226 Transfer complete"),
    "smtp": (250, "250 2.0.0 OK"),
    "pop3": (None, "+OK"),
    "imap": (None, "OK"),
}
_ERROR = {
    "http": (403, "403 Forbidden"),
    "ftp": (550, "550 {reason}"),
    "smtp": (554, "554 5.7.1 {reason}"),
    "pop3": (None, "-ERR {reason}"),
    "imap": (None, "NO {reason}"),
}
_REASON_LIMIT = 200  # characters of a reason in a protocol status line


@dataclass
class NotifyContext:
    """What the renderer knows about the transfer.

    `file`: the name the client knows the content by (default: the
    decision's path). `message`: the original e-mail (mail protocols).
    `sender` / `recipients`: the envelope; by default the message's
    Sender/From and To/Cc. `relay`: where e-mail notices are sent (None:
    built, not sent). `notice_from`: From of e-mail notices. `imap_tag`:
    the tag of the IMAP command answered."""

    file: Optional[str] = None
    message: Optional[MailInput] = None
    sender: Optional[str] = None
    recipients: Sequence[str] = ()
    relay: Optional[Relay] = None
    notice_from: str = "postmaster@localhost"
    imap_tag: Optional[str] = None


@dataclass
class Response:
    """What to send back. `outcome`: "pass" (the original goes through;
    `content` is None), "replace" (success status, `content` replaces the
    original) or "error" (the protocol's error; `content` is an error page
    for HTTP, else None). `mails`: e-mail notices; `delivered` and
    `delivery_errors` say what the relay did with them."""

    protocol: str
    action: str
    outcome: str
    status: str
    code: Optional[int] = None
    content: Optional[bytes] = None
    content_type: Optional[str] = None
    mails: list[EmailMessage] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    delivery_errors: list[str] = field(default_factory=list)


def _safe(text: str, limit: int = _REASON_LIMIT) -> str:
    """One line of printable ASCII: names from scanned content must not
    forge protocol lines (CR/LF) or break ASCII-only protocols."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = re.sub(r"[\x00-\x1f\x7f]", "?", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short_reason(decision: Decision) -> str:
    if decision.reason == VIRUS:
        return f"virus {', '.join(decision.threats)} found"
    return f"content not scanned ({decision.reason})"


def notice_text(decision: Decision, notice: Notice, file: str, found: Sequence[str]) -> str:
    """The replacement text: the custom message, or a default naming the
    file and its threats or fallback reasons."""
    if notice.custom_message:
        return notice.custom_message + "\n"
    what = ", ".join(dict.fromkeys(found)) or (decision.reason or "")
    if decision.reason == VIRUS:
        return f"avgate removed {file}: it contains the virus {what}.\n"
    detail = f" ({decision.detail})" if decision.detail else ""
    if decision.action == "block":
        return f"avgate blocked {file}: it could not be scanned: {what}{detail}.\n"
    return f"{file} was delivered without a complete virus scan: {what}{detail}.\n"


def render(
    decision: Decision,
    protocol: str,
    context: Union[NotifyContext, Mapping[str, Any], None] = None,
) -> Response:
    """The response for one decision in one protocol's terms."""
    proto = protocol.lower()
    if proto not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    ctx = context if isinstance(context, NotifyContext) else NotifyContext(**(context or {}))
    file = ctx.file or decision.path
    notice = decision.notice or Notice()
    mail = proto in MAIL_PROTOCOLS
    original = parse_message(ctx.message) if mail and ctx.message is not None else None

    if decision.action == "block" and notice.type == "protocol-only":
        code, status = _ERROR[proto]
        reason = _safe(short_reason(decision))
        response = Response(proto, decision.action, "error", status.format(reason=reason), code)
        if proto == "http":
            response.content = f"Forbidden: {reason}\n".encode()
            response.content_type = "text/plain; charset=utf-8"
    else:
        code, status = _SUCCESS[proto]
        response = Response(proto, decision.action, "pass", status, code)
        if decision.action == "block":
            response.outcome = "replace"
            _replace(response, decision, notice, file, ctx, original)
    if ctx.imap_tag and proto == "imap":
        response.status = f"{ctx.imap_tag} {response.status}"

    if mail:
        response.mails = _mails(decision, notice, file, ctx, original)
        if response.mails and ctx.relay is not None:
            response.delivered, response.delivery_errors = deliver(response.mails, ctx.relay)
    return response


def _replace(
    response: Response,
    decision: Decision,
    notice: Notice,
    file: str,
    ctx: NotifyContext,
    original: Optional[EmailMessage],
) -> None:
    if response.protocol not in MAIL_PROTOCOLS:
        found = [what for _, what in decision.findings]
        response.content = notice_text(decision, notice, file, found).encode()
        response.content_type = "text/plain; charset=utf-8"
        return
    response.content_type = "message/rfc822"
    if ctx.message is not None:
        response.content, _ = replace_parts(
            ctx.message,
            decision.findings,
            lambda name, found: notice_text(decision, notice, name or file, found),
        )
        return
    # no message to edit: the notice becomes the message
    tag = notice.custom_message_subject or DEFAULT_TAGS[decision.notification or "fallback-block"]
    standalone = build_notice(
        to=list(ctx.recipients),
        from_addr=ctx.notice_from,
        tag=tag,
        text=notice_text(decision, notice, file, [w for _, w in decision.findings]),
    )
    response.content = standalone.as_bytes()


def _inner_names(decision: Decision, file: str) -> str:
    """What was blocked inside the message: the findings' paths below it
    (``mail.eml//invoice.zip//x.exe`` -> ``invoice.zip//x.exe``)."""
    inner = [path.split(PATH_SEPARATOR, 1)[1] for path in decision.files if PATH_SEPARATOR in path]
    return ", ".join(dict.fromkeys(inner)) or file


def _mails(
    decision: Decision,
    notice: Notice,
    file: str,
    ctx: NotifyContext,
    original: Optional[EmailMessage],
) -> list[EmailMessage]:
    block = decision.notification
    if block in ("virus-detection", "fallback-block") and notice.notify_mail_sender:
        to = [ctx.sender] if ctx.sender else sender_of(original)
    elif block == "fallback-non-block" and notice.notify_mail_recipient:
        to = list(ctx.recipients) or recipients_of(original)
    else:
        return []
    to = [a for a in to if a and a != "<>"]  # a null sender (a bounce) gets no notice
    if not to:
        return []
    found = [what for _, what in decision.findings]
    file = _inner_names(decision, file)
    lines = [notice_text(decision, notice, file, found).rstrip(), ""]
    lines.append(f"File: {file}")
    if decision.reason == VIRUS:
        lines.append(f"Threat: {', '.join(decision.threats)}")
    else:
        lines.append(f"Reason: {decision.reason}" + (f" ({decision.detail})" if decision.detail else ""))
    lines.append(f"Action: {decision.action}")
    assert block is not None
    return [
        build_notice(
            to=to,
            from_addr=ctx.notice_from,
            tag=notice.custom_message_subject or DEFAULT_TAGS[block],
            text="\n".join(lines),
            original=original,
        )
    ]
