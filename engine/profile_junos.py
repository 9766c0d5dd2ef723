"""Junos-style profile configuration: read and print.

Reads both forms, in one file or mixed, with any number of profiles:

    set security utm feature-profile anti-virus profile P scan-options timeout 30
    set security utm feature-profile anti-virus juniper-express-engine profile P ...

    security { utm { feature-profile { anti-virus {
        profile P { fallback-options { default block; } }
    } } } }

Curly-brace fragments may start at any level (`utm {`, `anti-virus {`,
`profile P {`) and may carry the older engine level (`anti-virus
kaspersky-lab-engine profile P {...}`, `kaspersky-lab-engine { profile P ...`).
Comments (`#` to the end of the line, `/* ... */`) and double-quoted strings
with backslash escapes are understood. Anything else is an error naming the
file and line. Both forms become a list of statements (the words from the
top of the hierarchy to a leaf) before they are interpreted, so they mean
exactly the same.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

from .profile import (
    BLOCK_KEYS,
    NOTIFICATION_BLOCKS,
    Profile,
    ProfileError,
    ProfileSettings,
    format_size,
)

__all__ = ["parse_junos", "format_curly", "format_set", "ENGINES", "HIERARCHY"]

HIERARCHY = ("security", "utm", "feature-profile", "anti-virus")
ENGINES = ("kaspersky-lab-engine", "juniper-express-engine", "sophos-engine", "avira-engine")
# Keys that stand alone (a flag) and the value they set.
FLAGS = {
    "notify-mail-sender": ("notify-mail-sender", True),
    "no-notify-mail-sender": ("notify-mail-sender", False),
    "notify-mail-recipient": ("notify-mail-recipient", True),
    "no-notify-mail-recipient": ("notify-mail-recipient", False),
}

_PUNCT = "{};[]"
# Junos configuration commands other than set: a file of them is not a configuration.
_OTHER_VERBS = ("delete", "deactivate", "activate", "insert", "rename", "edit", "annotate", "copy", "replace")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "string" or "punct"
    value: str
    line: int
    end_line: int


def tokenize(text: str, source: str) -> Iterator[Token]:
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise ProfileError("unterminated /* comment", source, line)
            line += text.count("\n", i, end)
            i = end + 2
        elif c == '"':
            start_line, chars = line, []
            i += 1
            while True:
                if i >= n:
                    raise ProfileError("unterminated string", source, start_line)
                c = text[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    if i + 1 >= n:
                        raise ProfileError("unterminated string", source, start_line)
                    escaped = text[i + 1]
                    if escaped not in _ESCAPES:
                        raise ProfileError(f"unknown escape \\{escaped} in a string", source, line)
                    chars.append(_ESCAPES[escaped])
                    i += 2
                    continue
                if c == "\n":
                    line += 1
                chars.append(c)
                i += 1
            yield Token("string", "".join(chars), start_line, line)
        elif c in _PUNCT:
            yield Token("punct", c, line, line)
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in _PUNCT and text[i] != '"':
                i += 1
            yield Token("word", text[start:i], line, line)


def statements(tokens: Iterable[Token], source: str) -> Iterator[list[Token]]:
    """Each leaf statement as the full list of words from the top level;
    an empty block yields its own path (so `profile P { }` defines P)."""
    tokens = list(tokens)
    stack: list[list[Token]] = []  # the words that opened each enclosing block
    filled: list[bool] = []  # whether each enclosing block has a statement
    current: list[Token] = []
    i = 0

    def error(tok: Token, message: str) -> ProfileError:
        return ProfileError(message, source, tok.line)

    def prefix() -> list[Token]:
        return [w for words in stack for w in words]

    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "word" and tok.value == "set" and not current and not stack:
            words, end = [], tok.end_line
            i += 1
            while i < len(tokens) and tokens[i].line == end:
                if tokens[i].kind == "punct":
                    raise error(tokens[i], f"unexpected {tokens[i].value!r} in a set line")
                words.append(tokens[i])
                end = tokens[i].end_line
                i += 1
            if not words:
                raise error(tok, "'set' without a statement")
            yield words
            continue
        if tok.kind == "word" and tok.value in _OTHER_VERBS and not current and not stack:
            raise error(tok, f"'{tok.value}' lines are not understood; avgate reads 'set' lines and the curly-brace form")
        i += 1
        if tok.kind != "punct":
            current.append(tok)
        elif tok.value == ";":
            if not current:
                raise error(tok, "empty statement")
            if filled:
                filled[-1] = True
            yield prefix() + current
            current = []
        elif tok.value == "{":
            if not current:
                raise error(tok, "'{' without a statement name")
            if filled:
                filled[-1] = True
            stack.append(current)
            filled.append(False)
            current = []
        elif tok.value == "}":
            if current:
                raise error(current[-1], f"missing ';' after {current[-1].value!r}")
            if not stack:
                raise error(tok, "'}' without a matching '{'")
            if not filled[-1]:
                yield prefix()
            stack.pop()
            filled.pop()
        else:
            raise error(tok, f"unexpected {tok.value!r}: lists are not used in anti-virus profiles")
    if current:
        raise error(current[-1], f"missing ';' after {current[-1].value!r}")
    if stack:
        raise error(stack[-1][0], f"block {' '.join(t.value for t in stack[-1])!r} is not closed")


def parse_junos(text: str, source: str = "<string>") -> dict[str, Profile]:
    """Every profile in a Junos-style configuration text."""
    settings: dict[str, ProfileSettings] = {}
    declared: dict[str, Token] = {}  # where each profile first appears
    for words in statements(tokenize(text, source), source):
        _interpret(words, settings, declared, source)
    profiles: dict[str, Profile] = {}
    for name, found in settings.items():
        try:
            profiles[name] = found.profile()
        except ValueError as exc:  # pragma: no cover - every value was checked as it was read
            raise ProfileError(str(exc), source, declared[name].line) from None
    return profiles


def _interpret(
    words: Sequence[Token], settings: dict[str, ProfileSettings], declared: dict[str, Token], source: str
) -> None:
    def error(tok: Token, message: str) -> ProfileError:
        return ProfileError(message, source, tok.line)

    i = 0
    if words[0].value in HIERARCHY:
        for expected in HIERARCHY[HIERARCHY.index(words[0].value) :]:
            if i == len(words):
                return  # an empty block above the profiles
            if words[i].value != expected:
                raise error(words[i], f"unknown statement {words[i].value!r}; expected {expected!r}")
            i += 1
    if i < len(words) and words[i].value in ENGINES:
        i += 1
    if i == len(words):
        return
    if words[i].value != "profile":
        raise error(words[i], f"unknown statement {words[i].value!r}; avgate reads anti-virus 'profile NAME ...'")
    if i + 1 == len(words):
        raise error(words[i], "'profile' needs a name")
    name_tok = words[i + 1]
    if name_tok.value not in settings:
        try:
            settings[name_tok.value] = ProfileSettings(name_tok.value)
        except ValueError as exc:
            raise error(name_tok, str(exc)) from None
        declared[name_tok.value] = name_tok
    profile = settings[name_tok.value]
    rest = list(words[i + 2 :])
    try:
        _apply(profile, rest, error)
    except ValueError as exc:
        if isinstance(exc, ProfileError):
            raise
        # name the word the problem is about: the last one read
        raise error(rest[-1] if rest else name_tok, str(exc)) from None


def _apply(profile: ProfileSettings, rest: list[Token], error: Callable[[Token, str], ProfileError]) -> None:
    if not rest:
        return
    section, args = rest[0], [t.value for t in rest[1:]]

    def arity(expected: int, usage: str) -> None:
        if len(args) < expected:
            raise error(rest[-1], f"incomplete statement; expected '{usage}'")
        if len(args) > expected:
            raise error(rest[expected + 1], f"unexpected {args[expected]!r}; expected '{usage}'")

    if section.value == "fallback-options":
        if args:
            arity(2, "fallback-options REASON ACTION")
            profile.fallback_option(args[0], args[1])
    elif section.value == "scan-options":
        if args:
            arity(2, "scan-options KEY VALUE")
            profile.scan_option(args[0], args[1])
    elif section.value == "notification-options":
        if not args:
            return
        block = args[0]
        profile.notification_block(block)
        if len(args) == 1:
            return
        key = args[1]
        if key in FLAGS:
            arity(2, f"notification-options {block} {key}")
            flag, value = FLAGS[key]
            if flag not in BLOCK_KEYS[block]:
                raise ValueError(f"unknown {block} key {key!r}; known: {', '.join(_block_words(block))}")
            profile.notification_option(block, flag, value)
        elif key in BLOCK_KEYS[block]:
            arity(3, f"notification-options {block} {key} VALUE")
            profile.notification_option(block, key, args[2])
        else:
            raise error(rest[2], f"unknown {block} key {key!r}; known: {', '.join(_block_words(block))}")
    else:
        raise error(section, f"unknown profile statement {section.value!r}; known: fallback-options, notification-options, scan-options")


def _block_words(block: str) -> list[str]:
    words: list[str] = []
    for key in BLOCK_KEYS[block]:
        words.extend([key, f"no-{key}"] if key.startswith("notify-") else [key])
    return words


# -- printing ---------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z0-9_.:/@+\-]+")


def quote(value: str) -> str:
    """A word as Junos prints it: bare when safe, else a quoted string."""
    if _BARE.fullmatch(value) and value != "set":
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def leaves(profile: Profile) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The effective profile as (container path, statement words) pairs,
    in the order they are printed. Words are raw (unquoted)."""
    out: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for reason, action in profile.fallback.items():
        out.append((("fallback-options",), (reason, action)))
    for block in NOTIFICATION_BLOCKS:
        notice = profile.notifications[block]
        where = ("notification-options", block)
        if "type" in BLOCK_KEYS[block]:
            out.append((where, ("type", notice.type)))
        if "notify-mail-sender" in BLOCK_KEYS[block]:
            out.append((where, ("notify-mail-sender" if notice.notify_mail_sender else "no-notify-mail-sender",)))
        if "notify-mail-recipient" in BLOCK_KEYS[block]:
            out.append((where, ("notify-mail-recipient" if notice.notify_mail_recipient else "no-notify-mail-recipient",)))
        if notice.custom_message is not None:
            out.append((where, ("custom-message", notice.custom_message)))
        if notice.custom_message_subject is not None:
            out.append((where, ("custom-message-subject", notice.custom_message_subject)))
    scan = ("scan-options",)
    out.append((scan, ("timeout", _number(profile.timeout))))
    if profile.content_size_limit is not None:
        out.append((scan, ("content-size-limit", str(profile.content_size_limit))))
    out.append((scan, ("decompress-layer-limit", str(profile.decompress_layer_limit))))
    out.append((scan, ("scan-size-limit", format_size(profile.scan_size_limit))))
    out.append((scan, ("max-files", str(profile.max_files))))
    return out


def format_curly(profiles: Sequence[Profile], indent: str = "    ") -> str:
    """Profiles in the curly-brace hierarchy, from `security {` down."""
    lines: list[str] = []
    depth = 0

    def emit(text: str) -> None:
        lines.append(indent * depth + text)

    for word in HIERARCHY:
        emit(f"{word} {{")
        depth += 1
    for profile in profiles:
        emit(f"profile {quote(profile.name)} {{")
        depth += 1
        open_path: tuple[str, ...] = ()
        for path, words in leaves(profile):
            if path != open_path:
                common = 0
                while common < min(len(path), len(open_path)) and path[common] == open_path[common]:
                    common += 1
                for _ in range(len(open_path) - common):
                    depth -= 1
                    emit("}")
                for word in path[common:]:
                    emit(f"{quote(word)} {{")
                    depth += 1
                open_path = path
            emit(" ".join(quote(w) for w in words) + ";")
        for _ in open_path:
            depth -= 1
            emit("}")
        depth -= 1
        emit("}")
    for _ in HIERARCHY:
        depth -= 1
        emit("}")
    return "\n".join(lines) + "\n"


def format_set(profiles: Sequence[Profile]) -> str:
    """Profiles as `set security utm feature-profile anti-virus ...` lines."""
    lines = []
    for profile in profiles:
        head = "set " + " ".join(HIERARCHY) + f" profile {quote(profile.name)}"
        for path, words in leaves(profile):
            lines.append(" ".join([head, *(quote(w) for w in (*path, *words))]))
    return "\n".join(lines) + "\n"
