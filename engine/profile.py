"""Profiles: scan-, fallback- and notification-options (DESIGN.md).

A Profile says what one scan runs under (scan-options), what happens when a
scan cannot reach a verdict (fallback-options: reason -> action) and how the
client is told (notification-options). It loads from TOML (profile_toml.py)
or Junos-style configuration (profile_junos.py) and prints back in the
curly-brace form (``Profile.to_junos()``).

Configuration names, units and ranges (the gateway's names; avgate's own
options marked):

scan-options
  timeout                 seconds, 1-1800, default 180 (the Python API also
                          takes fractions of a second, e.g. 0.2)
  content-size-limit      KB of input, 1-4194304, default none (no limit);
                          the gateway allows 20-40000
  decompress-layer-limit  nesting depth, 1-16, default 4
  scan-size-limit         avgate: decompressed bytes of all layers together,
                          a number with an optional k/m/g suffix (KiB, MiB,
                          GiB), 1k-1024g, default 400m
  max-files               avgate: nodes inside containers, 1-10000000,
                          default 10000
fallback-options          REASON block | log-and-permit | permit, for each
                          reason in errors.REASONS (defaults: DEFAULT_FALLBACK)
notification-options
  virus-detection, fallback-block:
      type protocol-only | message (default message);
      notify-mail-sender | no-notify-mail-sender (default no);
      custom-message "1-512 chars"; custom-message-subject "1-255 chars, one line"
  fallback-non-block:
      notify-mail-recipient | no-notify-mail-recipient (default no);
      custom-message; custom-message-subject
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

from .errors import REASONS
from .governor import MiB, ScanLimits

__all__ = [
    "Profile",
    "Notice",
    "ProfileError",
    "ProfileSettings",
    "ACTIONS",
    "DEFAULT_FALLBACK",
    "NOTIFICATION_BLOCKS",
    "NOTICE_TYPES",
    "SCAN_OPTIONS",
    "load_profiles",
    "loads_profiles",
    "format_size",
]

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

NOTIFICATION_BLOCKS = ("virus-detection", "fallback-block", "fallback-non-block")
NOTICE_TYPES = ("protocol-only", "message")

# Which keys each notification block takes (the gateway's sets).
BLOCK_KEYS: dict[str, tuple[str, ...]] = {
    "virus-detection": ("type", "notify-mail-sender", "custom-message", "custom-message-subject"),
    "fallback-block": ("type", "notify-mail-sender", "custom-message", "custom-message-subject"),
    "fallback-non-block": ("notify-mail-recipient", "custom-message", "custom-message-subject"),
}

PathLike = Union[str, "os.PathLike[str]"]


class ProfileError(ValueError):
    """A profile setting is unknown or invalid; names the file and line."""

    def __init__(self, message: str, source: str = "", line: Optional[int] = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        where = ":".join(str(p) for p in (source, line) if p not in ("", None))
        super().__init__(f"{where}: {message}" if where else message)


# -- value parsers: config text (Junos token) or TOML value -> Python value --


def _whole_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+", value):
            raise ValueError(f"expected a whole number, got {value!r}")
        return int(value)
    return value


def _integer(lo: int, hi: int, unit: str = "") -> Callable[[object], int]:
    def parse(value: object) -> int:
        number = _whole_number(value)
        if not lo <= number <= hi:
            raise ValueError(f"{number} is out of range {lo}-{hi}{unit}")
        return number

    return parse


_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_SIZE_MIN, _SIZE_MAX = 1 << 10, 1 << 40


def parse_size(value: object) -> int:
    """Bytes from a number with an optional k/m/g suffix (binary units)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"expected a size such as 400m, got {value!r}")
    if isinstance(value, int):
        number = value
    else:
        match = re.fullmatch(r"([0-9]+)([kmgKMG]?)", value)
        if not match:
            raise ValueError(f"expected a size such as 400m, got {value!r}")
        number = int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if not _SIZE_MIN <= number <= _SIZE_MAX:
        raise ValueError(f"{number} bytes is out of range 1k-1024g")
    return number


def format_size(nbytes: int) -> str:
    """The shortest exact spelling of a size: 419430400 -> 400m."""
    for suffix in ("g", "m", "k"):
        unit = _SIZE_UNITS[suffix]
        if nbytes % unit == 0:
            return f"{nbytes // unit}{suffix}"
    return str(nbytes)


def _choice(options: tuple[str, ...], what: str) -> Callable[[object], str]:
    def parse(value: object) -> str:
        if value not in options:
            raise ValueError(f"bad {what} {value!r}; expected {' | '.join(options)}")
        assert isinstance(value, str)
        return value

    return parse


def _text(lo: int, hi: int, what: str, one_line: bool) -> Callable[[object], str]:
    # Control characters would let a message forge protocol lines or headers.
    bad = re.compile(r"[\x00-\x1f\x7f]" if one_line else r"[\x00-\x08\x0b-\x1f\x7f]")

    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"{what} must be a string, got {value!r}")
        if not lo <= len(value) <= hi:
            raise ValueError(f"{what} must be {lo}-{hi} characters long, got {len(value)}")
        if bad.search(value):
            raise ValueError(f"{what} must not contain control characters{' or line breaks' if one_line else ''}")
        return value

    return parse


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


@dataclass(frozen=True)
class Option:
    """One configuration key: its Profile/Notice attribute and its parser."""

    key: str
    attr: str
    parse: Callable[[object], Any]


SCAN_OPTIONS: dict[str, Option] = {
    o.key: o
    for o in (
        Option("timeout", "timeout", _integer(1, 1800, " seconds")),
        Option("content-size-limit", "content_size_limit", _integer(1, 4 * 1024 * 1024, " KB")),
        Option("decompress-layer-limit", "decompress_layer_limit", _integer(1, 16)),
        Option("scan-size-limit", "scan_size_limit", parse_size),
        Option("max-files", "max_files", _integer(1, 10_000_000)),
    )
}

NOTICE_OPTIONS: dict[str, Option] = {
    o.key: o
    for o in (
        Option("type", "type", _choice(NOTICE_TYPES, "notification type")),
        Option("notify-mail-sender", "notify_mail_sender", _flag),
        Option("notify-mail-recipient", "notify_mail_recipient", _flag),
        Option("custom-message", "custom_message", _text(1, 512, "custom-message", one_line=False)),
        Option("custom-message-subject", "custom_message_subject", _text(1, 255, "custom-message-subject", True)),
    )
}

_parse_action = _choice(ACTIONS, "fallback action")
_parse_name = _text(1, 63, "profile name", one_line=True)


@dataclass(frozen=True)
class Notice:
    """One notification-options block (virus-detection, fallback-block or
    fallback-non-block). `type` and `notify_mail_sender` apply to the first
    two, `notify_mail_recipient` to fallback-non-block only."""

    type: str = "message"
    notify_mail_sender: bool = False
    notify_mail_recipient: bool = False
    custom_message: Optional[str] = None
    custom_message_subject: Optional[str] = None

    def check(self, block: str) -> None:
        """Raise ValueError unless every value is valid for `block`."""
        if block not in BLOCK_KEYS:
            raise ValueError(f"unknown notification block {block!r}; known: {', '.join(NOTIFICATION_BLOCKS)}")
        default = Notice()
        for key, option in NOTICE_OPTIONS.items():
            value = getattr(self, option.attr)
            if value is None or (key not in BLOCK_KEYS[block] and value == getattr(default, option.attr)):
                continue
            if key not in BLOCK_KEYS[block]:
                raise ValueError(f"{block} does not take {key}")
            option.parse(value)


@dataclass
class Profile:
    """Scan-, fallback- and notification-options. Fields are validated on
    construction (ProfileError); partial `fallback` / `notifications`
    mappings are completed from the defaults. Change a profile with
    dataclasses.replace() so the new values are validated too."""

    name: str = "default"
    timeout: float = 180.0  # seconds
    content_size_limit: Optional[int] = None  # KB; None = no limit
    decompress_layer_limit: int = 4
    scan_size_limit: int = 400 * MiB  # bytes, all layers
    max_files: int = 10_000
    fallback: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FALLBACK))
    notifications: dict[str, Notice] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            self._check()
        except ValueError as exc:
            raise ProfileError(f"profile {self.name!r}: {exc}") from None

    def _check(self) -> None:
        _parse_name(self.name)
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or not 0 < self.timeout <= 1800:
            raise ValueError(f"timeout must be more than 0 and at most 1800 seconds, got {self.timeout!r}")
        self.timeout = float(self.timeout)
        for key, option in SCAN_OPTIONS.items():
            value = getattr(self, option.attr)
            if key != "timeout" and not (key == "content-size-limit" and value is None):
                option.parse(value)
        unknown = set(self.fallback) - set(DEFAULT_FALLBACK)
        if unknown:
            raise ValueError(f"unknown fallback reason(s) {', '.join(sorted(unknown))}; known: {', '.join(REASONS)}")
        for action in self.fallback.values():
            _parse_action(action)
        self.fallback = {reason: self.fallback.get(reason, default) for reason, default in DEFAULT_FALLBACK.items()}
        for block, notice in self.notifications.items():
            if not isinstance(notice, Notice):
                raise ValueError(f"notifications[{block!r}] must be a Notice, got {notice!r}")
            notice.check(block)
        self.notifications = {block: self.notifications.get(block, Notice()) for block in NOTIFICATION_BLOCKS}

    # -- use ---------------------------------------------------------------

    def limits(self) -> ScanLimits:
        return ScanLimits(
            timeout=self.timeout,
            content_size_limit=None if self.content_size_limit is None else self.content_size_limit * 1024,
            scan_size_limit=self.scan_size_limit,
            max_files=self.max_files,
            decompress_layer_limit=self.decompress_layer_limit,
        )

    def action(self, reason: str) -> str:
        """The fallback action for a reason; an unknown reason is `default`."""
        return self.fallback.get(reason, self.fallback["default"])

    def notice(self, block: str) -> Notice:
        return self.notifications[block]

    # -- load and print ----------------------------------------------------

    @classmethod
    def load(cls, path: PathLike, name: Optional[str] = None) -> "Profile":
        """The profile `name` from a file (TOML by the .toml suffix, else
        Junos-style); without a name the file must hold exactly one."""
        return _pick(load_profiles(path), name, os.fspath(path))

    @classmethod
    def loads(cls, text: str, name: Optional[str] = None, *, format: str = "junos", source: str = "<string>") -> "Profile":
        return _pick(loads_profiles(text, format=format, source=source), name, source)

    def to_junos(self) -> str:
        """The effective profile in the curly-brace form."""
        from .profile_junos import format_curly

        return format_curly([self])

    def to_set_lines(self) -> str:
        from .profile_junos import format_set

        return format_set([self])


def _pick(profiles: Mapping[str, Profile], name: Optional[str], source: str) -> Profile:
    if name is not None:
        try:
            return profiles[name]
        except KeyError:
            known = ", ".join(profiles) or "none"
            raise ProfileError(f"no profile {name!r} (profiles: {known})", source) from None
    if len(profiles) != 1:
        known = ", ".join(profiles) or "none"
        raise ProfileError(f"expected one profile, found {len(profiles)} ({known}); name one", source)
    return next(iter(profiles.values()))


def loads_profiles(text: str, *, format: str = "junos", source: str = "<string>") -> dict[str, Profile]:
    """Every profile in a configuration text, in order of appearance."""
    if format == "toml":
        from .profile_toml import parse_toml

        return parse_toml(text, source)
    if format == "junos":
        from .profile_junos import parse_junos

        return parse_junos(text, source)
    raise ValueError(f"unknown profile format {format!r}; expected junos or toml")


def load_profiles(path: PathLike) -> dict[str, Profile]:
    """Every profile in a file: TOML if it ends in .toml, else Junos-style."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"cannot read: {exc}", source) from None
    return loads_profiles(text, format="toml" if source.endswith(".toml") else "junos", source=source)


class ProfileSettings:
    """Settings of one profile as a loader meets them; `profile()` builds
    the Profile. Each setter raises ValueError naming what is wrong; the
    loader adds the file and line."""

    def __init__(self, name: str) -> None:
        _parse_name(name)
        self.name = name
        self.scan: dict[str, Any] = {}
        self.fallback: dict[str, str] = {}
        self.notices: dict[str, dict[str, Any]] = {}

    def scan_option(self, key: str, value: object) -> None:
        option = SCAN_OPTIONS.get(key)
        if option is None:
            raise ValueError(f"unknown scan-options key {key!r}; known: {', '.join(SCAN_OPTIONS)}")
        self.scan[option.attr] = option.parse(value)

    def fallback_option(self, reason: str, action: object) -> None:
        if reason not in DEFAULT_FALLBACK:
            raise ValueError(f"unknown fallback reason {reason!r}; known: {', '.join(REASONS)}")
        self.fallback[reason] = _parse_action(action)

    def notification_block(self, block: str) -> None:
        if block not in BLOCK_KEYS:
            raise ValueError(f"unknown notification block {block!r}; known: {', '.join(NOTIFICATION_BLOCKS)}")
        self.notices.setdefault(block, {})

    def notification_option(self, block: str, key: str, value: object) -> None:
        self.notification_block(block)
        if key not in BLOCK_KEYS[block]:
            raise ValueError(f"unknown {block} key {key!r}; known: {', '.join(BLOCK_KEYS[block])}")
        option = NOTICE_OPTIONS[key]
        self.notices[block][option.attr] = option.parse(value)

    def profile(self) -> Profile:
        notices = {block: Notice(**values) for block, values in self.notices.items()}
        return Profile(name=self.name, fallback=dict(self.fallback), notifications=notices, **self.scan)
