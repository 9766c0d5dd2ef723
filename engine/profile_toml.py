"""Profiles written as TOML, with the gateway's key names:

    [profile.strict.scan-options]
    timeout = 30                     # seconds
    content-size-limit = 10000       # KB
    scan-size-limit = "400m"         # or a number of bytes

    [profile.strict.fallback-options]
    corrupt-file = "block"

    [profile.strict.notification-options.virus-detection]
    type = "message"
    notify-mail-sender = true
    custom-message = "A virus was removed."

Several `[profile.NAME]` tables may share one file. tomllib reports no
positions for values, so an error is located by finding the key's line in
the text (see locate()).
"""
from __future__ import annotations

import re
import sys
from typing import Any, Optional

from .profile import Profile, ProfileError, ProfileSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["parse_toml", "locate"]

_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*=""")


def _key_path(dotted: str) -> tuple[str, ...]:
    """The keys of a TOML dotted key, as tomllib reads them."""
    data: Any = tomllib.loads(f"{dotted} = 0")
    path: list[str] = []
    while isinstance(data, dict):
        (key, data), = data.items()
        path.append(key)
    return tuple(path)


def locate(text: str, path: tuple[str, ...]) -> Optional[int]:
    """The line that sets `path` (or the nearest enclosing table or key):
    the line whose full key path shares the longest prefix with `path`."""
    best_line, best_len = None, 0
    table: tuple[str, ...] = ()
    for lineno, line in enumerate(text.splitlines(), 1):
        full: Optional[tuple[str, ...]] = None
        header = _HEADER.match(line)
        if _ARRAY_HEADER.match(line):
            table = ()
            continue
        try:
            if header:
                table = full = _key_path(header.group(1))
            else:
                key = _KEY.match(line)
                if key:
                    full = table + _key_path(key.group(1))
        except tomllib.TOMLDecodeError:
            continue
        if full is None:
            continue
        common = 0
        while common < min(len(full), len(path)) and full[common] == path[common]:
            common += 1
        if common == len(full) and common > best_len:
            best_line, best_len = lineno, common
    return best_line


def parse_toml(text: str, source: str = "<string>") -> dict[str, Profile]:
    """Every `[profile.NAME]` table in a TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        raise ProfileError(f"TOML syntax: {exc}", source, int(match.group(1)) if match else None) from None

    def error(path: tuple[str, ...], message: str) -> ProfileError:
        return ProfileError(message, source, locate(text, path))

    def table(value: Any, path: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise error(path, f"{'.'.join(path)} must be a table")
        return value

    for key in data:
        if key != "profile":
            raise error((key,), f"unknown top-level key {key!r}; profiles are [profile.NAME] tables")
    profiles: dict[str, Profile] = {}
    for name, body in table(data.get("profile", {}), ("profile",)).items():
        where = ("profile", name)
        try:
            settings = ProfileSettings(name)
        except ValueError as exc:
            raise error(where, str(exc)) from None
        for section, values in table(body, where).items():
            here = where + (section,)
            if section not in ("scan-options", "fallback-options", "notification-options"):
                raise error(here, f"unknown profile key {section!r}; known: fallback-options, notification-options, scan-options")
            for key, value in table(values, here).items():
                try:
                    if section == "scan-options":
                        settings.scan_option(key, value)
                    elif section == "fallback-options":
                        settings.fallback_option(key, value)
                    else:
                        settings.notification_block(key)
                        for option, setting in table(value, here + (key,)).items():
                            try:
                                settings.notification_option(key, option, setting)
                            except ValueError as exc:
                                raise error(here + (key, option), str(exc)) from None
                except ProfileError:
                    raise
                except ValueError as exc:
                    raise error(here + (key,), str(exc)) from None
        try:
            profiles[name] = settings.profile()
        except ValueError as exc:  # pragma: no cover - every value was checked as it was read
            raise error(where, str(exc)) from None
    return profiles
