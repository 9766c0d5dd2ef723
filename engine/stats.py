"""Counters an operator expects, like the gateway's anti-virus statistics.

Every scan request is counted once as clean, threat found or fallback, and
gets one scan code (the detection, else its deciding fallback reason, else
clean). Fallback counts are kept per reason and action: a scan that could
not finish in several ways counts once for each reason, under the action its
profile gives that reason; a detection is not a fallback.
"""
from __future__ import annotations

import threading
from typing import Any

from .errors import REASONS
from .profile import ACTIONS
from .result import ScanResult

__all__ = ["Stats", "SCAN_CODES", "SCAN_CODE_OF_REASON", "scan_code", "summary_lines"]

# Gateway names of the scan codes, one per fallback reason plus clean/infected.
SCAN_CODE_OF_REASON: dict[str, str] = {
    "engine-not-ready": "engine-not-ready",
    "corrupt-file": "corrupted-file",
    "decompress-layer": "decompress-layer",
    "password-file": "password",
    "content-size": "content-size",
    "too-many-requests": "too-many-requests",
    "timeout": "timeout",
    "out-of-resources": "out-of-resource",
    "default": "internal-error",
}
assert set(SCAN_CODE_OF_REASON) == set(REASONS)
SCAN_CODES: tuple[str, ...] = ("clean", "infected", *SCAN_CODE_OF_REASON.values())


def scan_code(result: ScanResult) -> str:
    if result.detections:
        return "infected"
    if not result.errors:
        return "clean"
    decision = result.decision
    reason = getattr(decision, "reason", None) or result.errors[0].reason
    return SCAN_CODE_OF_REASON.get(reason, "internal-error")


class Stats:
    """Thread-safe counters; `snapshot()` is a plain dict (JSON-ready)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.clean = 0
        self.threat_found = 0
        self.fallback = 0
        self.bytes_scanned = 0
        self.codes = dict.fromkeys(SCAN_CODES, 0)
        self.by_reason = {reason: dict.fromkeys(ACTIONS, 0) for reason in REASONS}
        self.by_action = dict.fromkeys(ACTIONS, 0)

    def record(self, result: ScanResult) -> None:
        code = scan_code(result)
        decision = result.decision
        fallbacks = getattr(decision, "fallbacks", ())
        with self._lock:
            self.requests += 1
            self.bytes_scanned += result.stats.bytes_scanned
            self.codes[code] += 1
            if result.detections:
                self.threat_found += 1
            elif result.errors:
                self.fallback += 1
                self.by_action[getattr(decision, "action", "block")] += 1
                for reason, action in fallbacks:
                    self.by_reason.setdefault(reason, dict.fromkeys(ACTIONS, 0))[action] += 1
            else:
                self.clean += 1

    def merge(self, snapshot: dict[str, Any]) -> None:
        """Add another Stats' snapshot (a worker process's, say) to these counters."""
        with self._lock:
            self.requests += snapshot["scan_requests"]
            self.clean += snapshot["clean"]
            self.threat_found += snapshot["threat_found"]
            self.fallback += snapshot["fallback"]
            self.bytes_scanned += snapshot["bytes_scanned"]
            for code, n in snapshot["scan_codes"].items():
                self.codes[code] = self.codes.get(code, 0) + n
            for action, n in snapshot["fallback_actions"].items():
                self.by_action[action] = self.by_action.get(action, 0) + n
            for reason, actions in snapshot["fallback_by_reason"].items():
                mine = self.by_reason.setdefault(reason, dict.fromkeys(ACTIONS, 0))
                for action, n in actions.items():
                    mine[action] = mine.get(action, 0) + n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "scan_requests": self.requests,
                "clean": self.clean,
                "threat_found": self.threat_found,
                "fallback": self.fallback,
                "bytes_scanned": self.bytes_scanned,
                "scan_codes": dict(self.codes),
                "fallback_actions": dict(self.by_action),
                "fallback_by_reason": {reason: dict(actions) for reason, actions in self.by_reason.items()},
            }


def summary_lines(snapshot: dict[str, Any]) -> list[str]:
    """Human lines for a scan summary: the totals, then every scan code and
    fallback reason that occurred (zeros left out)."""
    lines = [
        f"Scan requests: {snapshot['scan_requests']} (clean {snapshot['clean']}, "
        f"threat found {snapshot['threat_found']}, fallback {snapshot['fallback']})"
    ]
    codes = [f"{code} {n}" for code, n in snapshot["scan_codes"].items() if n]
    if codes:
        lines.append("Scan codes: " + ", ".join(codes))
    for reason, actions in snapshot["fallback_by_reason"].items():
        counted = [f"{action} {n}" for action, n in actions.items() if n]
        if counted:
            lines.append(f"Fallback {reason}: " + ", ".join(counted))
    return lines
