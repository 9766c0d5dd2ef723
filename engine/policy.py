"""ScanResult + Profile -> Decision.

A detection beats every error; several errors -> the strictest action.
FIRST SLICE: actions only. Issue 5 adds notification blocks and logging.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .profile import ACTIONS, Profile
from .result import ScanResult

__all__ = ["Decision", "decide"]


@dataclass(frozen=True)
class Decision:
    action: str  # permit | log-and-permit | block
    reason: Optional[str] = None  # "virus" for a detection, a fallback reason, None when clean
    reasons: tuple[str, ...] = field(default=())  # every fallback reason that occurred

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reason": self.reason, "reasons": list(self.reasons)}


def decide(result: ScanResult, profile: Profile) -> Decision:
    reasons = tuple(dict.fromkeys(e.reason for e in result.errors))
    if result.detections:
        return Decision("block", "virus", reasons)
    if not reasons:
        return Decision("permit")
    strictest = max(reasons, key=lambda r: ACTIONS.index(profile.fallback[r]))
    return Decision(profile.fallback[strictest], strictest, reasons)
