"""Counters an operator expects, like the gateway's anti-virus statistics.

FIRST SLICE: totals. Issue 5 adds scan codes and fallback counts per
reason and action.
"""
from __future__ import annotations

import threading
from typing import Any

from .result import ScanResult

__all__ = ["Stats"]


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.clean = 0
        self.threat_found = 0
        self.fallback = 0
        self.bytes_scanned = 0

    def record(self, result: ScanResult) -> None:
        with self._lock:
            self.requests += 1
            self.bytes_scanned += result.stats.bytes_scanned
            if result.detections:
                self.threat_found += 1
            elif result.errors:
                self.fallback += 1
            else:
                self.clean += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "scan_requests": self.requests,
                "clean": self.clean,
                "threat_found": self.threat_found,
                "fallback": self.fallback,
                "bytes_scanned": self.bytes_scanned,
            }
