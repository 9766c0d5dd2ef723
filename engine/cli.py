"""The `avgate` command.

    avgate scan PATH...        scan files and directories, clamscan-style output
    avgate db info|compile     the signature database (cli_db.py)
    avgate profile show|check  profiles (cli_profile.py)
    avgate version

Exit codes of `scan`: 0 nothing found and nothing blocked, 1 something
found, 2 a fallback blocked or an error.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Optional, Sequence

from . import __version__, cli_db, cli_profile
from .database import Database, DatabaseError
from .engine import Engine
from .result import ScanResult

__all__ = ["main"]

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


def load_database(paths: Optional[Sequence[str]]) -> Database:
    return Database.load(paths) if paths else Database.default()


def result_line(result: ScanResult) -> str:
    if result.detections:
        return "\n".join(f"{d.path}: {d.name} FOUND" for d in result.detections)
    if result.errors:
        action = result.decision.action if result.decision is not None else "block"
        return "\n".join(f"{e.path}: {e.reason} {action.upper()}" for e in result.errors)
    return f"{result.path}: OK"


def cmd_scan(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        engine = Engine(load_database(args.database))
    except (DatabaseError, OSError) as exc:
        print(f"avgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    files = found = blocked = 0
    scanned = 0
    for path in args.paths:
        for result in engine.scan_path(path):
            files += 1
            scanned += result.stats.bytes_scanned
            if result.detections:
                found += 1
            elif result.decision is not None and result.decision.action == "block":
                blocked += 1
            print(result_line(result), flush=True)
    if not args.no_summary:
        seconds = time.perf_counter() - started
        print("\n----------- SCAN SUMMARY -----------")
        print(f"Scanned files: {files}")
        print(f"Infected files: {found}")
        print(f"Blocked by fallback: {blocked}")
        print(f"Data scanned: {scanned / 1e6:.2f} MB")
        print(f"Time: {seconds:.3f} sec")
    if found:
        return EXIT_FOUND
    return EXIT_ERROR if blocked else EXIT_CLEAN


def cmd_version(args: argparse.Namespace) -> int:
    db = load_database(args.database)
    print(f"avgate {__version__}, {db.signature_count} signatures")
    return EXIT_CLEAN


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avgate", description="Antivirus scan engine with a native core.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="scan files and directories", description="Scan files and directories.")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (scanned recursively)")
    scan.add_argument("-d", "--database", action="append", metavar="PATH",
                      help="signature file or directory (repeatable; default: the shipped database)")
    scan.add_argument("--no-summary", action="store_true", help="do not print the summary")
    scan.set_defaults(func=cmd_scan)

    cli_db.add_commands(commands)
    cli_profile.add_commands(commands)

    version = commands.add_parser("version", help="engine and database versions")
    version.add_argument("-d", "--database", action="append", metavar="PATH")
    version.set_defaults(func=cmd_version)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
