"""One scan: walk the content, match every node, collect a ScanResult.

The content walk (content.py) pushes each node's bytes into a NodeSink that
the ScanVisitor hands out; the sink feeds the database's node scanner
(signatures + hashes). Problems that do not end the scan (an encrypted entry,
a corrupt member) are reported to the visitor and the walk goes on; errors
that end it (timeout, content-size, out-of-resources) propagate as ScanError
and are recorded here.
"""
from __future__ import annotations

import time
from typing import Optional

from . import content
from .database import Database, NodeScanner
from .errors import InternalError, OutOfResources, ScanError
from .governor import ScanBudget
from .result import Detection, Problem, ScanResult

__all__ = ["ScanVisitor", "NodeSink", "scan_source"]


class NodeSink:
    """Receives one node's bytes."""

    def __init__(self, visitor: "ScanVisitor", path: str, layer: int) -> None:
        self.visitor = visitor
        self.path = path
        self.layer = layer
        self.matching: NodeScanner = visitor.db.node_scanner()

    def feed(self, chunk: bytes | memoryview) -> None:
        self.visitor.budget.count_scanned(len(chunk), self.path)
        self.visitor.result.stats.bytes_scanned += len(chunk)
        for name, offset in self.matching.feed(chunk):
            self.visitor.detect(Detection(name, self.path, offset))

    def end(self) -> None:
        """All of the node's bytes were fed."""
        for name, offset in self.matching.finish():
            self.visitor.detect(Detection(name, self.path, offset))


class ScanVisitor:
    """What the content walk reports to: nodes, their bytes, problems."""

    def __init__(self, db: Database, budget: ScanBudget, result: ScanResult, all_matches: bool = False) -> None:
        self.db = db
        self.budget = budget
        self.result = result
        self.all_matches = all_matches

    @property
    def stopped(self) -> bool:
        """True once nothing more can change the verdict (a detection, unless
        all matches were asked for); the walk then stops early."""
        return bool(self.result.detections) and not self.all_matches

    def begin(self, path: str, layer: int) -> NodeSink:
        self.result.stats.files += 1
        self.result.stats.max_layer = max(self.result.stats.max_layer, layer)
        return NodeSink(self, path, layer)

    def detect(self, detection: Detection) -> None:
        # Like clamscan: the first detection decides; the rest only with all_matches.
        if self.all_matches or not self.result.detections:
            self.result.detections.append(detection)

    def problem(self, error: ScanError) -> None:
        self.result.errors.append(Problem(error.reason, error.path, error.detail))


def scan_source(
    source: content.Source,
    name: str,
    db: Database,
    budget: ScanBudget,
    all_matches: bool = False,
) -> ScanResult:
    """Scan one input (path, bytes, file object or chunk iterable)."""
    result = ScanResult(path=name)
    visitor = ScanVisitor(db, budget, result, all_matches)
    started = time.perf_counter()
    try:
        content.walk(source, name, visitor, budget)
    except ScanError as exc:
        visitor.problem(exc)
    except MemoryError:
        visitor.problem(OutOfResources("out of memory", name))
    except Exception as exc:  # anything else is the default reason, never a crash
        visitor.problem(InternalError(f"{type(exc).__name__}: {exc}", name))
    result.stats.seconds = time.perf_counter() - started
    return result


def scan_bytes(data: bytes, db: Database, name: str = "bytes", budget: Optional[ScanBudget] = None) -> ScanResult:
    return scan_source(data, name, db, budget or ScanBudget())
