"""Profiles: scan-, fallback- and notification-options (DESIGN.md).

FIRST SLICE: the defaults only. Issue 5 adds the TOML and Junos-style
loaders, the printer, validation and notification options.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .errors import REASONS
from .governor import MiB, ScanLimits

__all__ = ["Profile", "ACTIONS", "DEFAULT_FALLBACK"]

ACTIONS = ("permit", "log-and-permit", "block")  # from mildest to strictest

DEFAULT_FALLBACK: dict[str, str] = {
    "engine-not-ready": "block",
    "corrupt-file": "log-and-permit",
    "decompress-layer": "block",
    "password-file": "log-and-permit",
    "content-size": "block",
    "too-many-requests": "block",
    "timeout": "block",
    "out-of-resources": "block",
    "default": "block",
}
assert set(DEFAULT_FALLBACK) == set(REASONS)


@dataclass
class Profile:
    name: str = "default"
    timeout: float = 180.0  # seconds
    content_size_limit: Optional[int] = None  # KB
    decompress_layer_limit: int = 4
    scan_size_limit: int = 400 * MiB  # bytes, all layers
    max_files: int = 10_000
    fallback: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FALLBACK))

    def limits(self) -> ScanLimits:
        return ScanLimits(
            timeout=self.timeout,
            content_size_limit=None if self.content_size_limit is None else self.content_size_limit * 1024,
            scan_size_limit=self.scan_size_limit,
            max_files=self.max_files,
            decompress_layer_limit=self.decompress_layer_limit,
        )
