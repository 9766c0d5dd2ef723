"""Body signatures against Python's `re` as the oracle.

Each .ndb hex signature is translated here, independently of avgate's
parser, into a `re` bytes pattern. What is compared: for every signature,
whether it matches a node and where, the reported offset being the smallest
end offset (exclusive) of any occurrence that satisfies the signature's
offset (the start at n..n+shift, or at size-n..size-n+shift). The oracle
finds it by matching the reversed pattern on the reversed data with a
lookahead at every position: a reversed match starting at i is a forward
occurrence ending at len - i.

Signatures are random (literals, ??, nibbles, single- and multi-byte,
variable-length and negated alternatives, every gap form, offsets); data is
random over a small alphabet (so partial matches abound) with planted
occurrences; the node is fed whole and in random chunks.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import avgate

ALPHABET = b"ABCD"


# ---- the oracle: hex signature -> re pattern (forward and reversed) -----------------

def _byte_class(values: list[int]) -> bytes:
    if len(values) == 1:
        return re.escape(bytes(values))
    return b"[" + b"".join(b"\\x%02x" % v for v in values) + b"]"


def _cell_regex(cell: str) -> bytes:
    if cell == "??":
        return b"."
    if cell[1] == "?":
        hi = int(cell[0], 16)
        return _byte_class([hi << 4 | lo for lo in range(16)])
    if cell[0] == "?":
        lo = int(cell[1], 16)
        return _byte_class([hi << 4 | lo for hi in range(16)])
    return _byte_class([int(cell, 16)])


def _tokens(text: str) -> list[tuple]:
    out: list[tuple] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "*":
            out.append(("gap", 0, None))
            i += 1
        elif c in "{[":
            j = text.index("}" if c == "{" else "]", i)
            lo, dash, hi = text[i + 1 : j].partition("-")
            if not dash:
                out.append(("gap", int(lo), int(lo)))
            else:
                out.append(("gap", int(lo or 0), int(hi) if hi else None))
            i = j + 1
        elif c in "!(":
            negated = c == "!"
            i += negated
            j = text.index(")", i)
            choices = [[choice[k : k + 2] for k in range(0, len(choice), 2)] for choice in text[i + 1 : j].split("|")]
            out.append(("alt", choices, negated))
            i = j + 1
        else:
            out.append(("cell", text[i : i + 2]))
            i += 2
    return out


def to_regex(text: str, reverse: bool = False) -> bytes:
    parts = []
    tokens = _tokens(text)
    for tok in reversed(tokens) if reverse else tokens:
        if tok[0] == "cell":
            parts.append(_cell_regex(tok[1]))
        elif tok[0] == "gap":
            parts.append(b".{%d,}" % tok[1] if tok[2] is None else b".{%d,%d}" % (tok[1], tok[2]))
        else:
            choices = [b"".join(_cell_regex(c) for c in (reversed(ch) if reverse else ch)) for ch in tok[1]]
            group = b"(?:" + b"|".join(choices) + b")"
            parts.append(b"(?!" + group + b")" + b"." * len(tok[1][0]) if tok[2] else group)
    return b"".join(parts)


def oracle_end(text: str, offset: str, data: bytes) -> Optional[int]:
    """Smallest end offset of an occurrence of `text` at `offset` in `data`."""
    size = len(data)
    constraint = b""
    if offset != "*":
        base, _, shift_text = offset.partition(",")
        shift = int(shift_text or 0)
        if base.startswith("EOF-"):
            n = int(base[4:])
            if size < n:
                return None
            lo = size - n
        else:
            lo = int(base)
        # after the reversed occurrence come the `start` bytes before the forward one
        constraint = b"(?=.{%d,%d}\\Z)" % (lo, lo + shift)
    pattern = re.compile(b"(?s)(?=" + to_regex(text, reverse=True) + constraint + b")")
    starts = [m.start() for m in pattern.finditer(data[::-1])]
    return size - max(starts) if starts else None


# ---- random signatures with a way to instantiate them --------------------------------

@dataclass
class Sig:
    text: str
    elements: list[tuple]  # for instantiating: ("lit", bytes) ("cell", str) ("gap", lo, hi) ("alt", [[cells]], neg)


def _literal(draw, lo: int, hi: int) -> bytes:
    return bytes(draw(st.lists(st.sampled_from(ALPHABET), min_size=lo, max_size=hi)))


def _cell_text(draw) -> str:
    kind = draw(st.sampled_from(["any", "hi", "lo", "byte"]))
    b = draw(st.sampled_from(ALPHABET))
    return {"any": "??", "hi": f"{b >> 4:x}?", "lo": f"?{b & 15:x}", "byte": f"{b:02x}"}[kind]


@st.composite
def _element(draw) -> tuple[str, tuple]:
    kind = draw(st.sampled_from(["lit", "lit", "cell", "gap", "alt1", "altn", "altv", "neg1", "negn"]))
    if kind == "lit":
        lit = _literal(draw, 1, 5)
        return lit.hex(), ("lit", lit)
    if kind == "cell":
        cell = _cell_text(draw)
        return cell, ("cell", cell)
    if kind == "gap":
        form = draw(st.sampled_from(["n", "-n", "n-m", "n-m", "big"]))
        lo = draw(st.integers(0, 6))
        if form == "n":
            return f"{{{lo}}}", ("gap", lo, lo)
        if form == "-n":
            return f"{{-{lo}}}", ("gap", 0, lo)
        if form == "big":  # longer than sigcompile.SPLIT_GAP: may split the segment
            hi = draw(st.integers(257, 300))
            return f"{{{lo}-{hi}}}", ("gap", lo, hi)
        hi = lo + draw(st.integers(0, 6))
        return f"{{{lo}-{hi}}}", ("gap", lo, hi)
    negated = kind.startswith("neg")
    if kind in ("alt1", "neg1"):
        choices = [[f"{b:02x}"] for b in draw(st.lists(st.sampled_from(ALPHABET), min_size=1 if negated else 2,
                                                           max_size=3, unique=True))]
    else:
        width = draw(st.integers(2, 3))
        n = draw(st.integers(1 if negated else 2, 3))
        choices = []
        for _ in range(n):
            length = width if kind != "altv" else draw(st.integers(1, 3))
            choices.append([draw(st.sampled_from([f"{b:02x}" for b in ALPHABET] + ["??"])) if kind == "altv"
                            else f"{b:02x}" for b in _literal(draw, length, length)])
    text = ("!" if negated else "") + "(" + "|".join("".join(c) for c in choices) + ")"
    return text, ("alt", choices, negated)


@st.composite
def _part(draw) -> tuple[str, list[tuple]]:
    """Elements around one literal of >= 2 bytes (the part's possible anchor)."""
    before = draw(st.lists(_element(), max_size=3))
    anchor = _literal(draw, 2, 5)
    after = draw(st.lists(_element(), max_size=3))
    elements = before + [(anchor.hex(), ("lit", anchor))] + after
    # two hex literals side by side are one literal; a gap next to a gap merges: both fine
    return "".join(t for t, _ in elements), [e for _, e in elements]


@st.composite
def signatures(draw) -> Sig:
    parts = draw(st.lists(_part(), min_size=1, max_size=3))
    text, elements = parts[0]
    for part_text, part_elements in parts[1:]:
        lo = draw(st.integers(0, 4))
        gap_text, gap = draw(st.sampled_from([("*", ("gap", 0, None)), (f"{{{lo}-}}", ("gap", lo, None))]))
        text += gap_text + part_text
        elements = elements + [gap] + part_elements
    if draw(st.booleans()) and draw(st.booleans()):  # ClamAV allows fixed gaps at the edges
        n = draw(st.integers(1, 3))
        text, elements = f"{{{n}}}" + text, [("gap", n, n)] + elements
    return Sig(text, elements)


def _cell_byte(rng: random.Random, cell: str) -> int:
    if cell == "??":
        return rng.choice(ALPHABET)
    if cell[1] == "?":
        return int(cell[0], 16) << 4 | rng.randrange(16)
    if cell[0] == "?":
        return rng.randrange(16) << 4 | int(cell[1], 16)
    return int(cell, 16)


def instance(sig: Sig, rng: random.Random) -> bytes:
    """Bytes that match the signature (negated alternatives permitting)."""
    out = bytearray()
    for el in sig.elements:
        if el[0] == "lit":
            out += el[1]
        elif el[0] == "cell":
            out.append(_cell_byte(rng, el[1]))
        elif el[0] == "gap":
            hi = el[1] + 12 if el[2] is None else min(el[2], el[1] + 12)
            length = rng.choice([el[1], el[2] if el[2] is not None else el[1], rng.randint(el[1], hi)])
            out += bytes(rng.choice(ALPHABET) for _ in range(length))
        elif not el[2]:
            out += bytes(_cell_byte(rng, c) for c in rng.choice(el[1]))
        else:
            width = len(el[1][0])
            for _ in range(20):
                cand = bytes(rng.choice(ALPHABET + b"\x00") for _ in range(width))
                if not any(re.fullmatch(b"(?s)" + b"".join(_cell_regex(c) for c in ch), cand) for ch in el[1]):
                    break
            out += cand
    return bytes(out)


@st.composite
def cases(draw):
    """(list of (signature text, offset), data, chunk cuts)."""
    sigs = draw(st.lists(signatures(), min_size=1, max_size=4))
    rng = random.Random(draw(st.integers(0, 2**32)))
    pieces: list[bytes] = [bytes(rng.choice(ALPHABET) for _ in range(rng.randint(0, 200)))]
    starts: dict[int, int] = {}
    for i, sig in enumerate(sigs):
        if rng.random() < 0.8:
            inst = bytearray(instance(sig, rng))
            if rng.random() < 0.2 and inst:  # a near miss
                inst[rng.randrange(len(inst))] ^= 0x20
            starts[i] = sum(map(len, pieces))
            pieces += [bytes(inst), bytes(rng.choice(ALPHABET) for _ in range(rng.randint(0, 150)))]
    data = b"".join(pieces)
    specs = []
    for i, sig in enumerate(sigs):
        kind = rng.choice(["*", "*", "abs", "eof"])
        start = starts.get(i, rng.randint(0, 50))
        slack = rng.choice([0, 0, 1, 3])
        delta = rng.choice([-1, 0, 0, 0, 1])
        shift = f",{slack}" if slack else ""
        if kind == "abs":
            offset = f"{max(0, start - rng.randint(0, slack) + delta)}{shift}"
        elif kind == "eof":
            offset = f"EOF-{max(0, len(data) - start + rng.randint(0, slack) + delta)}{shift}"
        else:
            offset = "*"
        specs.append((sig.text, offset))
    cuts = draw(st.lists(st.integers(0, max(len(data), 1)), max_size=8))
    return specs, data, cuts


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c for c in cuts if 0 < c < len(data)} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def build(specs: list[tuple[str, str]]) -> avgate.Database:
    text = "".join(f"S{i}:0:{offset}:{hex_text}\n" for i, (hex_text, offset) in enumerate(specs))
    return avgate.Database.from_files({"oracle.ndb": text}, strict=True)


def expected(specs: list[tuple[str, str]], data: bytes) -> dict[str, int]:
    out = {}
    for i, (hex_text, offset) in enumerate(specs):
        end = oracle_end(hex_text, offset, data)
        if end is not None:
            out[f"S{i}"] = end
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_matches_agree_with_re_whole_and_chunked(case):
    specs, data, cuts = case
    db = build(specs)
    want = expected(specs, data)
    assert dict(db.match(data)) == want, specs
    assert dict(db.match(chunked(data, cuts))) == want, specs
    assert dict(db.match([data[i : i + 1] for i in range(len(data))])) == want, specs


# ---- hand-picked cases the random ones may miss ---------------------------------------

def check(specs: list[tuple[str, str]], data: bytes, want: dict[str, int]) -> None:
    assert expected(specs, data) == want  # the oracle itself
    db = build(specs)
    assert dict(db.match(data)) == want
    assert dict(db.match([data[i : i + 1] for i in range(len(data))])) == want


def test_the_earliest_ending_occurrence_is_reported_not_the_first_starting():
    # the first "ab" only completes with the far "ef"; the second one completes at once
    check([("6162{0-30}6566", "*")], b"ab" + b"x" * 10 + b"abef" + b"x" * 10 + b"ef", {"S0": 16})


def test_a_later_anchor_that_completes_sooner_wins_within_one_chunk():
    # AA@0 needs the long choice and ends at 14; AA@3 takes the short one and ends at 9
    check([("4141(43????????????????43|4444)4242", "*")], b"AACAADDBBxxCBB", {"S0": 9})


def test_gap_forms_at_their_bounds():
    data = b"ab" + b"x" * 4 + b"ef"
    check([("6162{4}6566", "*"), ("6162{5}6566", "*"), ("6162{-4}6566", "*"), ("6162{-3}6566", "*"),
           ("6162{4-}6566", "*"), ("6162{5-}6566", "*"), ("6162{3-4}6566", "*"), ("6162{5-9}6566", "*"),
           ("6162*6566", "*"), ("6162[2-4]6566", "*")],
          data, {"S0": 8, "S2": 8, "S4": 8, "S6": 8, "S8": 8, "S9": 8})


def test_edge_gaps_need_their_bytes():
    check([("{3}6162", "*"), ("6162{3}", "*")], b"xxab12", {})
    check([("{2}6162", "*"), ("6162{2}", "*")], b"xxab12", {"S0": 4, "S1": 6})


def test_offsets_start_and_eof():
    data = b"zzabcd12"  # checked against clamscan by hand
    check([("61626364", "2"), ("61626364", "1,1"), ("61626364", "1"), ("61626364", "EOF-6"),
           ("61626364", "EOF-7,1"), ("61626364", "EOF-7"), ("61626364", "EOF-9,5"), ("61626364", "3")],
          data, {"S0": 6, "S1": 6, "S3": 6, "S4": 6})


def test_negations_and_alternatives():
    check([("!(61|62)6364", "*"), ("6869(6a|6b6b)6c", "*"), ("(6869|6a)6b6c6d", "*"), ("7071!(7273|7475)7677", "*")],
          b"acd bcd xcd hikkl pqrsvw pqxyvw", {"S0": 11, "S1": 17, "S3": 31})


def test_alternative_sets_with_nibbles_and_wildcards():
    check([("6162(6?|7a)6364", "*"), ("6162(??|00)(5?|?9)", "*")], b"abzcd ab\x01Y ab\x019", {"S0": 5, "S1": 10})


def test_segments_chain_across_unbounded_and_long_gaps():
    # parts joined by '*' and by a gap longer than the split limit, both orders of appearance
    specs = [("41424344*45464748", "*"), ("41424344{300-400}45464748", "*"), ("45464748{0-10}41424344", "*")]
    check(specs, b"EFGH" + b"." * 20 + b"ABCD" + b"." * 350 + b"EFGH", {"S0": 382, "S1": 382})
    check(specs, b"ABCD" + b"." * 299 + b"EFGH", {"S0": 307})
    check(specs, b"ABCD" + b"." * 300 + b"EFGH" + b"ABCD", {"S0": 308, "S1": 308, "S2": 312})
    check(specs, b"ABCD" + b"." * 400 + b"EFGH", {"S0": 408, "S1": 408})
    check(specs, b"ABCD" + b"." * 401 + b"EFGH", {"S0": 409})


def test_a_second_chunk_completes_a_signature_whose_anchor_ended_the_first():
    db = build([("6162636465??????6a", "*")])
    node = db.node_scanner()
    assert node.feed(b"..abcde") == []
    assert node.feed(b"fgh") == []
    assert node.feed(b"jk") == [("S0", 11)]
    assert node.finish() == []
