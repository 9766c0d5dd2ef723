"""What one scan found: plain objects you can print, compare and serialise."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional

__all__ = ["Detection", "Problem", "ScanStats", "ScanResult", "PATH_SEPARATOR"]

# Separates the layers of a path inside containers: mail.eml//invoice.zip//payload.exe
PATH_SEPARATOR = "//"


@dataclass(frozen=True)
class Detection:
    """A signature matched. `path` names the node inside containers;
    `offset` is the end offset of the match in that node's bytes, or None
    for whole-file (hash) signatures."""

    name: str
    path: str
    offset: Optional[int] = None


@dataclass(frozen=True)
class Problem:
    """A part of the input the scan could not finish: one fallback reason."""

    reason: str
    path: str
    detail: str = ""


@dataclass
class ScanStats:
    bytes_scanned: int = 0  # bytes fed to the matcher, all layers together
    files: int = 0  # nodes scanned (the input itself and every entry)
    max_layer: int = 0
    seconds: float = 0.0


@dataclass
class ScanResult:
    """Outcome of one scan. `verdict` is "clean", "infected" or "error"
    (the scan could not finish somewhere; see `errors`). `decision` is set by
    the policy once a profile has judged the result."""

    path: str
    detections: list[Detection] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    decision: Any = None  # avgate.policy.Decision, once decided

    @property
    def verdict(self) -> str:
        if self.detections:
            return "infected"
        if self.errors:
            return "error"
        return "clean"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "verdict": self.verdict,
            "detections": [asdict(d) for d in self.detections],
            "errors": [asdict(e) for e in self.errors],
            "stats": asdict(self.stats),
        }
        if self.decision is not None:
            to_dict = getattr(self.decision, "to_dict", None)
            data["decision"] = to_dict() if to_dict else str(self.decision)
        return data

    def __repr__(self) -> str:
        parts = [f"path={self.path!r}", f"verdict={self.verdict!r}"]
        if self.detections:
            parts.append("detections=[" + ", ".join(f"{d.name}@{d.path}" for d in self.detections) + "]")
        if self.errors:
            parts.append("errors=[" + ", ".join(f"{e.reason}@{e.path}" for e in self.errors) + "]")
        if self.decision is not None:
            parts.append(f"decision={self.decision!r}")
        return f"ScanResult({', '.join(parts)})"
