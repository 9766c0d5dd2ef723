"""Thin ctypes bindings to libarchive's read side, returning raw status codes.

libarchive-c loads the library and is used for that; its own function
objects carry an errcheck that raises on FAILED/FATAL and logs every WARN,
which loses the distinction a scanner needs (a WARN block is still data, a
FAILED entry leaves the archive readable, FATAL does not). These bindings are
separate function objects on the same library handle (``lib[name]`` makes a
new one each time), so libarchive-c's stay untouched.

Also bound here, because libarchive-c does not wrap them:
archive_entry_is_data_encrypted / _is_metadata_encrypted.
"""
from __future__ import annotations

from ctypes import POINTER, c_char_p, c_int, c_int64, c_longlong, c_size_t, c_void_p
from typing import Any, Optional

from libarchive import ffi as _libarchive_c

__all__ = [
    "OK", "EOF", "RETRY", "WARN", "FAILED", "FATAL", "AE_IFREG", "NO_DATA_TYPES",
    "READ_CALLBACK", "SEEK_CALLBACK", "OPEN_CALLBACK", "CLOSE_CALLBACK",
    "lib", "version", "error_message", "failed", "support_format", "support_filter",
]

EOF = 1
OK = 0
RETRY = -10
WARN = -20
FAILED = -25
FATAL = -30

# archive_read_has_encrypted_entries: the format cannot encrypt at all
ENCRYPTION_UNSUPPORTED = -2

AE_IFMT = 0o170000
AE_IFREG = 0o100000
AE_IFDIR = 0o040000
AE_IFLNK = 0o120000
AE_IFCHR = 0o020000
AE_IFBLK = 0o060000
AE_IFIFO = 0o010000
AE_IFSOCK = 0o140000
# entry types that carry no data of their own
NO_DATA_TYPES = frozenset((AE_IFDIR, AE_IFLNK, AE_IFCHR, AE_IFBLK, AE_IFIFO, AE_IFSOCK))

_lib = _libarchive_c.libarchive

READ_CALLBACK = _libarchive_c.READ_CALLBACK
SEEK_CALLBACK = _libarchive_c.SEEK_CALLBACK
OPEN_CALLBACK = _libarchive_c.OPEN_CALLBACK
CLOSE_CALLBACK = _libarchive_c.CLOSE_CALLBACK
NO_OPEN = OPEN_CALLBACK()  # NULL: libarchive needs no open/close callback
NO_CLOSE = CLOSE_CALLBACK()


def _bind(name: str, argtypes: list[Any], restype: Any) -> Any:
    func = _lib["archive_" + name]  # a fresh function object, not libarchive-c's
    func.argtypes = argtypes
    func.restype = restype
    return func


class _Lib:
    """The functions the walk calls, each returning libarchive's status code."""

    read_new = _bind("read_new", [], c_void_p)
    read_free = _bind("read_free", [c_void_p], c_int)
    read_set_seek_callback = _bind("read_set_seek_callback", [c_void_p, SEEK_CALLBACK], c_int)
    read_open = _bind("read_open", [c_void_p, c_void_p, OPEN_CALLBACK, READ_CALLBACK, CLOSE_CALLBACK], c_int)
    read_next_header2 = _bind("read_next_header2", [c_void_p, c_void_p], c_int)
    read_data_block = _bind(
        "read_data_block", [c_void_p, POINTER(c_void_p), POINTER(c_size_t), POINTER(c_int64)], c_int
    )
    errno = _bind("errno", [c_void_p], c_int)
    error_string = _bind("error_string", [c_void_p], c_char_p)
    format_name = _bind("format_name", [c_void_p], c_char_p)
    filter_count = _bind("filter_count", [c_void_p], c_int)
    filter_code = _bind("filter_code", [c_void_p, c_int], c_int)
    filter_name = _bind("filter_name", [c_void_p, c_int], c_char_p)
    entry_new = _bind("entry_new", [], c_void_p)
    entry_free = _bind("entry_free", [c_void_p], None)
    entry_pathname = _bind("entry_pathname", [c_void_p], c_char_p)
    entry_pathname_utf8 = _bind("entry_pathname_utf8", [c_void_p], c_char_p)
    entry_filetype = _bind("entry_filetype", [c_void_p], c_int)
    entry_size = _bind("entry_size", [c_void_p], c_longlong)
    entry_size_is_set = _bind("entry_size_is_set", [c_void_p], c_int)
    read_has_encrypted_entries = _bind("read_has_encrypted_entries", [c_void_p], c_int)
    entry_is_data_encrypted = _bind("entry_is_data_encrypted", [c_void_p], c_int)
    entry_is_metadata_encrypted = _bind("entry_is_metadata_encrypted", [c_void_p], c_int)


lib = _Lib


def version() -> int:
    return int(_libarchive_c.version_number())


def error_message(archive_p: Optional[int]) -> str:
    """libarchive's message for the last error; never None."""
    if not archive_p:
        return "libarchive error"
    raw = lib.error_string(archive_p)
    if not raw:
        return "damaged or truncated data (libarchive gives no reason)"
    return raw.decode("utf-8", "replace").strip()


def failed(rc: int) -> bool:
    """True for RETRY, FAILED and FATAL: the call did not deliver
    (note RETRY > WARN numerically)."""
    return rc < WARN or rc == RETRY


def support_format(archive_p: int, name: str) -> None:
    """Enable one read format (e.g. 'zip', 'raw'); raises if unknown."""
    rc = _support(archive_p, "read_support_format_" + name)
    if rc < WARN:
        raise ValueError(f"libarchive cannot read format {name!r}: {error_message(archive_p)}")


def support_filter(archive_p: int, name: str) -> bool:
    """Enable one read filter; False when this libarchive lacks it (WARN
    means it works through an external program, which we refuse)."""
    return _support(archive_p, "read_support_filter_" + name) == OK


_SUPPORT: dict[str, Any] = {}


def _support(archive_p: int, function: str) -> int:
    func = _SUPPORT.get(function)
    if func is None:
        func = _SUPPORT[function] = _bind(function, [c_void_p], c_int)
    return int(func(archive_p))
