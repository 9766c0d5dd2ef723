"""Parsed body signatures -> the verifier's tables (csrc/sigs/sigverify.h).

A signature splits into segments at its unbounded gaps (``*``, ``{n-}``)
and at bounded gaps longer than SPLIT_GAP when both sides can be anchored;
shorter gaps stay inside a segment, where the verifier tracks them exactly.
Each segment's anchor is a stretch of at least two exact bytes: the
longest of those rare enough by the matcher's byte model (csrc/byte_model.h),
else the rarest. Anchors go into an avgate.Matcher, deduplicated, each with
the list of segments it serves. Signatures anchored at the end of the node (``EOF-n``) get a matcher
of their own, run over the node's last bytes when it ends.

The record layouts below must match the C structs; avgate._sigs checks the
sizes, and check_tables() checks every index before C follows it (a cache
file is input like any other).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ._matcher import Matcher
from ._sigs import RECORD_SIZES, BodyTables, stretch_bits
from .sigparse import Alt, BodySignature, Gap, Item, Run, SignatureError, Unsupported

__all__ = ["BodyCompiler", "CompiledBody", "SPLIT_GAP", "MAX_SPAN", "check_tables"]

RUN_DTYPE = np.dtype([("off", "<u8"), ("len", "<u4"), ("cls_start", "<u4"), ("cls_end", "<u4"), ("_pad", "<u4")])
ITEM_DTYPE = np.dtype([("kind", "<u4"), ("a", "<u4"), ("b", "<u4"), ("c", "<u4")])
CELL_CLASS_DTYPE = np.dtype([("pos", "<u4"), ("cls", "<u4")])
SEG_DTYPE = np.dtype([
    ("item_start", "<u4"), ("item_end", "<u4"), ("anchor_item", "<u4"), ("anchor_off", "<u4"),
    ("anchor_len", "<u4"), ("sig", "<u4"), ("flags", "<u4"), ("left_span", "<u4"), ("right_span", "<u4"),
    ("_pad", "<u4"), ("gap_min", "<u8"), ("gap_max", "<u8"),
])
SIG_DTYPE = np.dtype([
    ("name", "<u4"), ("target", "<u4"), ("first_seg", "<u4"), ("n_segs", "<u4"), ("off_kind", "<u4"),
    ("_pad", "<u4"), ("off_a", "<u8"), ("off_b", "<u8"),
])
DTYPES = {"runs": RUN_DTYPE, "items": ITEM_DTYPE, "cell_classes": CELL_CLASS_DTYPE, "segs": SEG_DTYPE,
          "sigs": SIG_DTYPE}
assert all(DTYPES[name].itemsize == size for name, size in RECORD_SIZES.items()), "record layouts drifted"

RUN, GAP, ALT, NALT = 0, 1, 2, 3
FIRST, LAST = 1, 2
OFF_KINDS = {"any": 0, "abs": 1, "eof": 2}
UNBOUNDED = (1 << 64) - 1
ENGINES = ("stream", "tail")

SPLIT_GAP = 256  # a bounded gap longer than this separates segments
MAX_SPAN = 1 << 20  # bytes one segment (or an EOF-n distance) may cover
RARE_ENOUGH_BITS = 24.0  # an anchor this rare (by the byte model) hits about once per 16 MB


def _max_len(item: Item) -> int:
    if isinstance(item, Run):
        return len(item)
    if isinstance(item, Gap):
        assert item.hi is not None
        return item.hi
    return max(len(r) for r in item.runs)


def _anchor_score(stretch: bytes) -> tuple[float, int, float]:
    """Rare enough first (fewer hits to verify), then longer: once hits are
    negligible, a longer anchor lets the matcher sample at a wider step and
    keeps short patterns (an extra pass over the data) out of it."""
    bits = stretch_bits(stretch)
    return (min(bits, RARE_ENOUGH_BITS), len(stretch), bits)


def _best_anchor(items: list[Item]) -> Optional[tuple[int, int, int]]:
    """(item index, start, length) of the best exact stretch of >= 2 bytes."""
    best: Optional[tuple[tuple[float, int, float], int, int, int]] = None
    for idx, item in enumerate(items):
        if not isinstance(item, Run):
            continue
        for start, length in item.static_stretches():
            if length < 2:
                continue
            score = _anchor_score(item.vals[start : start + length])
            if best is None or score > best[0]:
                best = (score, idx, start, length)
    return None if best is None else best[1:]


def _split(items: tuple[Item, ...]) -> list[tuple[Optional[Gap], list[Item]]]:
    """Segments: (the gap before it, its items)."""
    pieces: list[tuple[Optional[Gap], list[Item]]] = []
    gap: Optional[Gap] = None
    current: list[Item] = []
    for item in items:
        if isinstance(item, Gap) and item.hi is None:
            pieces.append((gap, current))
            gap, current = item, []
        else:
            current.append(item)
    pieces.append((gap, current))
    for k, (_, part) in enumerate(pieces):
        if _best_anchor(part) is None:
            where = f"part {k + 1} (split at '*' / '{{n-}}')" if len(pieces) > 1 else "the signature"
            raise SignatureError(f"{where} has no two consecutive fixed bytes to anchor on")
    out: list[tuple[Optional[Gap], list[Item]]] = []
    for gap, part in pieces:
        start = 0
        for idx in range(1, len(part) - 1):
            item = part[idx]
            if (isinstance(item, Gap) and item.hi is not None and item.hi > SPLIT_GAP
                    and _best_anchor(part[start:idx]) is not None and _best_anchor(part[idx + 1 :]) is not None):
                out.append((gap, part[start:idx]))
                gap, start = item, idx + 1
        out.append((gap, part[start:]))
    return out


@dataclass
class CompiledBody:
    """The verifier's tables as numpy arrays (matcher tables included, under
    "stream.m." / "tail.m."), and each engine's history length."""

    arrays: dict[str, np.ndarray]
    history: dict[str, int] = field(default_factory=dict)

    @property
    def sig_count(self) -> int:
        return int(self.arrays["sigs"].shape[0])

    def tables(self) -> BodyTables:
        matchers = {}
        for engine in ENGINES:
            prefix = f"{engine}.m."
            sub = {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}
            matchers[engine] = Matcher.from_arrays(sub) if sub else None
        return BodyTables(self.arrays, matchers["stream"], matchers["tail"],
                          self.history.get("stream", 0), self.history.get("tail", 0))


class BodyCompiler:
    """Add parsed signatures one by one (each may be refused), then build()."""

    def __init__(self) -> None:
        self._vals = bytearray()
        self._masks = bytearray()
        self._runs: list[tuple[int, int, int, int, int]] = []
        self._items: list[tuple[int, int, int, int]] = []
        self._cell_classes: list[tuple[int, int]] = []
        self._classes: dict[int, int] = {}
        self._segs: list[tuple[int, ...]] = []
        self._sigs: list[tuple[int, ...]] = []
        self._anchors: dict[str, dict[bytes, list[int]]] = {e: {} for e in ENGINES}
        self._history = {e: 0 for e in ENGINES}

    def __len__(self) -> int:
        return len(self._sigs)

    def _run(self, run: Run) -> int:
        off = len(self._vals)
        self._vals += run.vals
        self._masks += run.masks
        first = len(self._cell_classes)
        for pos, bits in run.classes:
            cls = self._classes.setdefault(bits, len(self._classes))
            self._cell_classes.append((pos, cls))
        self._runs.append((off, len(run), first, len(self._cell_classes), 0))
        return len(self._runs) - 1

    def _item(self, item: Item) -> None:
        if isinstance(item, Run):
            self._items.append((RUN, self._run(item), 0, 0))
        elif isinstance(item, Gap):
            assert item.hi is not None
            self._items.append((GAP, item.lo, item.hi, 0))
        else:
            first = len(self._runs)
            for run in item.runs:
                self._run(run)
            length = len(item.runs[0]) if item.negated else 0
            self._items.append((NALT if item.negated else ALT, first, len(item.runs), length))

    def add(self, sig: BodySignature, name_id: int) -> int:
        """Compile one signature; returns its index. Raises SignatureError or
        Unsupported (and then adds nothing)."""
        engine = "tail" if sig.offset.kind == "eof" else "stream"
        if engine == "tail" and sig.offset.a > MAX_SPAN:
            raise Unsupported(f"ndb: EOF-n offsets beyond {MAX_SPAN >> 20} MiB")
        first = sig.items[0]
        plans: list[tuple[Optional[Gap], list[Item], int, int, int, int, int]] = []
        if len(sig.items) == 1 and isinstance(first, Run) and first.exact and len(first) >= 2:
            # plain hex: one segment, anchored on all of it
            plans.append((None, list(sig.items), 0, 0, len(first), 0, 0))
        else:
            for gap, part in _split(sig.items):
                found = _best_anchor(part)
                assert found is not None
                idx, start, length = found
                left = sum(_max_len(it) for it in part[:idx])
                right = sum(_max_len(it) for it in part[idx + 1 :])
                if left + _max_len(part[idx]) + right > MAX_SPAN:
                    raise Unsupported(f"ndb: segments spanning more than {MAX_SPAN >> 20} MiB")
                plans.append((gap, part, idx, start, length, left, right))

        sig_index = len(self._sigs)
        first_seg = len(self._segs)
        for k, (gap, part, idx, start, length, left, right) in enumerate(plans):
            item_start = len(self._items)
            for item in part:
                self._item(item)
            flags = (FIRST if k == 0 else 0) | (LAST if k == len(plans) - 1 else 0)
            gap_min = gap.lo if gap is not None else 0
            gap_max = UNBOUNDED if gap is None or gap.hi is None else gap.hi
            self._segs.append((item_start, len(self._items), item_start + idx, start, length, sig_index, flags,
                               left, right, 0, gap_min, gap_max))
            anchor_run = part[idx]
            assert isinstance(anchor_run, Run)
            anchor = anchor_run.vals[start : start + length]
            self._anchors[engine].setdefault(anchor, []).append(len(self._segs) - 1)
            if engine == "stream":
                self._history["stream"] = max(self._history["stream"], left + len(anchor_run) + right)
        if engine == "tail":
            self._history["tail"] = max(self._history["tail"], sig.offset.a)
        off_kind = OFF_KINDS[sig.offset.kind]
        self._sigs.append((name_id, sig.target, first_seg, len(plans), off_kind, 0, sig.offset.a, sig.offset.shift))
        return sig_index

    def build(self) -> CompiledBody:
        def table(rows: list, dtype: np.dtype) -> np.ndarray:
            return np.array(rows, dtype=dtype) if rows else np.zeros(0, dtype)

        classes = np.zeros((len(self._classes), 4), dtype=np.uint64)
        for bits, idx in self._classes.items():
            classes[idx] = [(bits >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(4)]
        arrays: dict[str, np.ndarray] = {
            "vals": np.frombuffer(bytes(self._vals), dtype=np.uint8),
            "masks": np.frombuffer(bytes(self._masks), dtype=np.uint8),
            "runs": table(self._runs, RUN_DTYPE),
            "items": table(self._items, ITEM_DTYPE),
            "cell_classes": table(self._cell_classes, CELL_CLASS_DTYPE),
            "classes": classes,
            "segs": table(self._segs, SEG_DTYPE),
            "sigs": table(self._sigs, SIG_DTYPE),
        }
        for engine in ENGINES:
            anchors = self._anchors[engine]
            if not anchors:
                continue
            matcher = Matcher(list(anchors))
            for name, arr in matcher.arrays.items():
                arrays[f"{engine}.m.{name}"] = arr
            counts = np.fromiter((len(u) for u in anchors.values()), dtype=np.uint32, count=len(anchors))
            starts = np.zeros(len(anchors) + 1, dtype=np.uint32)
            np.cumsum(counts, out=starts[1:])
            arrays[f"{engine}.user_start"] = starts
            arrays[f"{engine}.users"] = np.fromiter(
                (u for users in anchors.values() for u in users), dtype=np.uint32, count=int(starts[-1]))
        return CompiledBody(arrays, dict(self._history))


def check_tables(body: CompiledBody) -> None:
    """Every index the C code follows is in range (ValueError if not)."""
    a = body.arrays

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"compiled signature tables are inconsistent: {what}")

    for name, dtype in DTYPES.items():
        need(a[name].dtype == dtype, f"{name} has the wrong record layout")
    runs, items, cc, segs, sigs = a["runs"], a["items"], a["cell_classes"], a["segs"], a["sigs"]
    n_vals = a["vals"].shape[0]
    need(a["masks"].shape[0] == n_vals, "vals/masks lengths differ")
    need(a["classes"].ndim == 2 and a["classes"].shape[1] == 4, "classes shape")
    need(bool(np.all(runs["off"] + runs["len"] <= n_vals)), "run bytes out of range")
    need(bool(np.all(runs["cls_start"] <= runs["cls_end"])) and bool(np.all(runs["cls_end"] <= cc.shape[0])),
         "run classes out of range")
    if cc.shape[0]:
        owner_len = np.repeat(runs["len"], (runs["cls_end"] - runs["cls_start"]).astype(np.int64))
        need(owner_len.shape[0] == cc.shape[0] and bool(np.all(cc["pos"] < owner_len)), "class cell positions")
        need(bool(np.all(cc["cls"] < a["classes"].shape[0])), "class index")
    kinds = items["kind"]
    need(bool(np.all(kinds <= NALT)), "item kind")
    is_run, is_gap, is_alt = kinds == RUN, kinds == GAP, (kinds == ALT) | (kinds == NALT)
    need(bool(np.all(items["a"][is_run] < runs.shape[0])), "run item index")
    need(bool(np.all(items["a"][is_gap] <= items["b"][is_gap])), "gap bounds")
    alt_end = items["a"][is_alt].astype(np.int64) + items["b"][is_alt]
    need(bool(np.all(alt_end <= runs.shape[0])) and bool(np.all(items["b"][is_alt] >= 1)), "alternative runs")
    for i in np.flatnonzero(kinds == NALT):
        first, count = int(items["a"][i]), int(items["b"][i])
        need(bool(np.all(runs["len"][first : first + count] == items["c"][i])), "negated alternative lengths")
    n_items, n_segs, n_sigs = items.shape[0], segs.shape[0], sigs.shape[0]
    need(bool(np.all(segs["item_start"] <= segs["anchor_item"]))
         and bool(np.all(segs["anchor_item"] < segs["item_end"]))
         and bool(np.all(segs["item_end"] <= n_items)), "segment items")
    if n_segs:
        anchor_items = items[segs["anchor_item"]]
        need(bool(np.all(anchor_items["kind"] == RUN)), "anchor item is not a run")
        anchor_runs = runs[np.minimum(anchor_items["a"], max(runs.shape[0] - 1, 0))]
        need(bool(np.all(segs["anchor_off"].astype(np.int64) + segs["anchor_len"] <= anchor_runs["len"])),
             "anchor outside its run")
        need(bool(np.all(segs["sig"] < n_sigs)), "segment signature")
        span = segs["left_span"].astype(np.int64) + anchor_runs["len"] + segs["right_span"]
    need(bool(np.all(sigs["first_seg"].astype(np.int64) + sigs["n_segs"] <= n_segs))
         and bool(np.all(sigs["n_segs"] >= 1)),
         "signature segments")
    need(bool(np.all(sigs["off_kind"] <= 2)), "offset kind")
    if n_sigs:
        # each signature's segments are consecutive, first to last, and no other
        counts = sigs["n_segs"].astype(np.int64)
        need(int(counts.sum()) == n_segs and bool(np.all(sigs["first_seg"] == np.cumsum(counts) - counts)),
             "signature segments are not consecutive")
        need(bool(np.all(segs["sig"] == np.repeat(np.arange(n_sigs), counts))), "segment signatures")
        is_first = np.zeros(n_segs, dtype=bool)
        is_first[sigs["first_seg"]] = True
        is_last = np.zeros(n_segs, dtype=bool)
        is_last[sigs["first_seg"].astype(np.int64) + counts - 1] = True
        need(bool(np.all(((segs["flags"] & FIRST) != 0) == is_first))
             and bool(np.all(((segs["flags"] & LAST) != 0) == is_last)), "segment first/last flags")
    for engine in ENGINES:
        prefix = f"{engine}.m."
        if not any(k.startswith(prefix) for k in a):
            continue
        starts, users = a[f"{engine}.user_start"], a[f"{engine}.users"]
        need(starts.shape[0] == a[f"{prefix}offsets"].shape[0] and int(starts[-1]) == users.shape[0]
             and bool(np.all(np.diff(starts.astype(np.int64)) >= 0)), f"{engine} anchor users")
        need(bool(np.all(users < n_segs)), f"{engine} user index")
        if engine == "stream" and users.shape[0]:
            need(int(span[users].max()) <= body.history.get("stream", 0), "stream history too short")
        if engine == "tail" and users.shape[0]:
            tail_sigs = sigs[segs["sig"][users]]
            need(bool(np.all(tail_sigs["off_kind"] == OFF_KINDS["eof"])), "tail engine holds non-EOF signatures")
            need(int(tail_sigs["off_a"].max()) <= body.history.get("tail", 0), "tail history too short")
