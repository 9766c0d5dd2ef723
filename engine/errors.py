"""One exception class per fallback reason (DESIGN.md, "Fallback reasons").

Every way a scan can fail to reach a verdict ends in exactly one of these.
`reason` is the profile's configuration key for the fallback action.
"""
from __future__ import annotations

__all__ = [
    "REASONS",
    "ScanError",
    "EngineNotReady",
    "CorruptFile",
    "DecompressLayer",
    "PasswordFile",
    "ContentSize",
    "TooManyRequests",
    "ScanTimeout",
    "OutOfResources",
    "InternalError",
    "error_for_reason",
]


class ScanError(Exception):
    """A scan (or part of one) could not reach a verdict.

    `path` names where inside the input it happened (``a.zip//b.tar//c``),
    `detail` says what happened in words a log reader understands.
    """

    reason = "default"

    def __init__(self, detail: str = "", path: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.path = path

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.reason}: {self.detail}" if self.detail else f"{where}{self.reason}"


class EngineNotReady(ScanError):
    """The signature database is still loading (cold start)."""

    reason = "engine-not-ready"


class CorruptFile(ScanError):
    """A container or compressed stream is damaged or truncated."""

    reason = "corrupt-file"


class DecompressLayer(ScanError):
    """Nesting deeper than decompress-layer-limit."""

    reason = "decompress-layer"


class PasswordFile(ScanError):
    """An entry is encrypted or password protected."""

    reason = "password-file"


class ContentSize(ScanError):
    """Input, decompressed total or file count over its limit."""

    reason = "content-size"


class TooManyRequests(ScanError):
    """More concurrent scans than the engine admits."""

    reason = "too-many-requests"


class ScanTimeout(ScanError):
    """The scan ran past its time limit and was aborted."""

    reason = "timeout"


class OutOfResources(ScanError):
    """A memory reservation was refused, or MemoryError."""

    reason = "out-of-resources"


class InternalError(ScanError):
    """Anything else: an internal error or unhandled exception."""

    reason = "default"


_BY_REASON: dict[str, type[ScanError]] = {
    cls.reason: cls
    for cls in (
        EngineNotReady,
        CorruptFile,
        DecompressLayer,
        PasswordFile,
        ContentSize,
        TooManyRequests,
        ScanTimeout,
        OutOfResources,
        InternalError,
    )
}

# In the order of DESIGN.md's table; "default" last.
REASONS: tuple[str, ...] = tuple(_BY_REASON)


def error_for_reason(reason: str) -> type[ScanError]:
    """The exception class of a fallback reason key."""
    try:
        return _BY_REASON[reason]
    except KeyError:
        raise ValueError(f"unknown fallback reason {reason!r}; known: {', '.join(REASONS)}") from None
