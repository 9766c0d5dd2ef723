"""ScanResult + Profile -> Decision: what happens to the scanned content.

- A detection beats every error: the content is blocked, and the
  virus-detection notification block applies.
- Otherwise each fallback reason that occurred maps to its profile action;
  the strictest action decides (ties: the reason seen first), and the
  notification block follows the action: fallback-block for `block`,
  fallback-non-block for `log-and-permit`, none for `permit`.
- A clean result is permitted with no notification.

A `log-and-permit` decision writes one structured record to the
``avgate.policy`` logger (level WARNING); the record's ``avgate`` attribute
holds the decision as a dict for log handlers that emit JSON.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from .profile import ACTIONS, Notice, Profile
from .result import ScanResult

__all__ = ["Decision", "decide", "VIRUS", "NOTIFICATION_FOR_ACTION", "logger"]

logger = logging.getLogger("avgate.policy")

VIRUS = "virus"  # the Decision.reason of a detection
NOTIFICATION_FOR_ACTION: dict[str, Optional[str]] = {
    "block": "fallback-block",
    "log-and-permit": "fallback-non-block",
    "permit": None,
}


@dataclass(frozen=True)
class Decision:
    """The verdict a client gets, and why.

    `reason` is "virus" for a detection, the deciding fallback reason, or
    None when clean. `reasons` lists every fallback reason that occurred and
    `fallbacks` pairs each with the action the profile gives it.
    `notification` names the notification-options block that applies and
    `notice` carries its settings. `path` is the scanned input, `files` the
    places inside it that were detected or could not be scanned, `threats`
    the signature names, `findings` pairs each file with its threat or
    fallback reason, `detail` says what went wrong for a fallback."""

    action: str  # permit | log-and-permit | block
    reason: Optional[str] = None
    reasons: tuple[str, ...] = field(default=())
    notification: Optional[str] = None  # virus-detection | fallback-block | fallback-non-block
    notice: Optional[Notice] = None
    path: str = ""
    files: tuple[str, ...] = ()
    threats: tuple[str, ...] = ()
    detail: str = ""
    findings: tuple[tuple[str, str], ...] = ()  # (file, threat or reason), in order found
    fallbacks: tuple[tuple[str, str], ...] = ()
    profile: str = "default"

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "reasons": list(self.reasons),
            "notification": self.notification,
            "path": self.path,
            "files": list(self.files),
            "threats": list(self.threats),
            "detail": self.detail,
            "findings": [list(f) for f in self.findings],
            "fallbacks": {reason: action for reason, action in self.fallbacks},
            "profile": self.profile,
        }

    def __repr__(self) -> str:
        return f"Decision(action={self.action!r}, reason={self.reason!r}, reasons={self.reasons!r}, notification={self.notification!r})"


def decide(result: ScanResult, profile: Profile) -> Decision:
    reasons = tuple(dict.fromkeys(e.reason for e in result.errors))
    fallbacks = tuple((reason, profile.action(reason)) for reason in reasons)
    if result.detections:
        action, reason, block = "block", VIRUS, "virus-detection"
        findings = tuple(dict.fromkeys((d.path, d.name) for d in result.detections))
        detail = ""
    elif not reasons:
        action, reason, block, findings, detail = "permit", None, None, (), ""
    else:
        # max() keeps the first of equals: ties go to the reason seen first
        reason, action = max(fallbacks, key=lambda pair: ACTIONS.index(pair[1]))
        block = NOTIFICATION_FOR_ACTION[action]
        findings = tuple(dict.fromkeys((e.path, e.reason) for e in result.errors))
        detail = next(e.detail for e in result.errors if e.reason == reason)
    decision = Decision(
        action,
        reason,
        reasons,
        notification=block,
        notice=None if block is None else profile.notice(block),
        path=result.path,
        files=tuple(dict.fromkeys(path for path, _ in findings)),
        threats=tuple(dict.fromkeys(d.name for d in result.detections)),
        detail=detail,
        findings=findings,
        fallbacks=fallbacks,
        profile=profile.name,
    )
    if action == "log-and-permit":
        log_permitted(result, decision)
    return decision


def log_permitted(result: ScanResult, decision: Decision) -> None:
    """The structured record of content let through without a full scan."""
    record = {
        "event": "fallback",
        **decision.to_dict(),
        "errors": [{"reason": e.reason, "path": e.path, "detail": e.detail} for e in result.errors],
    }
    logger.warning(
        "log-and-permit %s: %s (%s)",
        decision.path,
        decision.reason,
        "; ".join(f"{e.path}: {e.reason}{': ' + e.detail if e.detail else ''}" for e in result.errors),
        extra={"avgate": record},
    )
