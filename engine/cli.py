"""The `avgate` command.

    avgate scan [PATH ...|-]   scan files, directories, stdin; clamscan-style output
    avgate db info|compile     the signature database (cli_db.py)
    avgate profile show|check  profiles (cli_profile.py)
    avgate version

Exit codes of `scan`: 0 nothing found and nothing blocked, 1 something
found, 2 a fallback blocked or an error.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Optional, Sequence, TextIO

from . import __version__, cli_db, cli_profile
from .database import Database, DatabaseError
from .engine import Engine, iter_files
from .parallel import scan_files_in_workers, worker_count
from .profile import Profile, ProfileError
from .result import ScanResult
from .stats import Stats, summary_lines

__all__ = ["main", "build_parser"]

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """A bad option value; printed as `avgate: ...`, exit 2."""


# -- loading what a command needs ---------------------------------------------


def load_database(args: argparse.Namespace) -> Database:
    """The database a command's -d/--lenient/--cache-dir/--no-cache options name."""
    options: dict[str, Any] = {"strict": not args.lenient, "cache_dir": args.cache_dir}
    if args.no_cache:
        options["cache"] = False
    return Database.load(args.database, **options) if args.database else Database.default(**options)


def load_profile(spec: Optional[str]) -> Profile:
    """FILE or FILE:NAME (the only, or the named, profile in FILE)."""
    if not spec:
        return Profile()
    path, name = spec, None
    if not os.path.exists(spec) and ":" in spec:
        path, name = spec.rsplit(":", 1)
    return Profile.load(path, name)


def make_engine(args: argparse.Namespace) -> Engine:
    """Module level so worker processes can build the same engine (from the
    cache the parent's load wrote: a map, not a compile)."""
    return Engine(load_database(args), load_profile(args.profile), all_matches=args.all_match)


# -- output --------------------------------------------------------------------


def result_lines(result: ScanResult) -> list[str]:
    """clamscan-style: `path: NAME FOUND`, `path: OK`, `path: REASON ACTION`."""
    if result.detections:
        return [f"{d.path}: {d.name} FOUND" for d in result.detections]
    if result.errors:
        action = (result.decision.action if result.decision is not None else "block").upper()
        return [f"{e.path}: {e.reason} {action}" for e in result.errors]
    return [f"{result.path}: OK"]


def result_json(result: ScanResult) -> str:
    data = result.to_dict()
    record = {
        "path": data["path"],
        "verdict": data["verdict"],
        "detections": data["detections"],
        "errors": data["errors"],
        "decision": data.get("decision"),
        "bytes": data["stats"]["bytes_scanned"],
        "seconds": round(data["stats"]["seconds"], 6),
    }
    return json.dumps(record, sort_keys=False)


@dataclass
class Report:
    """What the command needs of some scanned files: the lines to print and
    the counters (built where the files were scanned: in a worker, the
    results themselves never cross the pipe)."""

    lines: list[str]
    stats: dict[str, Any]
    files: int
    input_bytes: int


def output_lines(result: ScanResult, args: argparse.Namespace) -> list[str]:
    """What `avgate scan` prints for one result under --json/--infected/--quiet."""
    problem = bool(result.detections or result.errors)
    if args.json:
        return [result_json(result)] if problem or not args.quiet else []
    return result_lines(result) if problem or not (args.quiet or args.infected) else []


def input_size(result: ScanResult) -> int:
    try:
        return os.path.getsize(result.path)
    except OSError:
        return 0


def report_of(results: list[ScanResult], args: argparse.Namespace) -> Report:
    """A worker's batch, summarised where it was scanned."""
    stats = Stats()
    lines: list[str] = []
    for result in results:
        stats.record(result)
        lines.extend(output_lines(result, args))
    return Report(lines, stats.snapshot(), len(results), sum(map(input_size, results)))


class Summary:
    """The scan's counters (the gateway's statistics, stats.py) plus what a
    command-line summary adds: time and rate."""

    def __init__(self) -> None:
        self.stats = Stats()
        self.started = time.perf_counter()

    def add(self, result: ScanResult) -> None:
        self.stats.record(result)

    def add_report(self, report: Report) -> None:
        self.stats.merge(report.stats)

    def exit_code(self) -> int:
        snapshot = self.stats.snapshot()
        if snapshot["threat_found"]:
            return EXIT_FOUND
        return EXIT_ERROR if snapshot["fallback_actions"]["block"] else EXIT_CLEAN

    def print(self, out: TextIO, signatures: int) -> None:
        snapshot = self.stats.snapshot()
        seconds = time.perf_counter() - self.started
        data = snapshot["bytes_scanned"]
        rate = data / seconds / 1e6 if seconds > 0 else 0.0
        print("\n----------- SCAN SUMMARY -----------", file=out)
        print(f"Known signatures: {signatures}", file=out)
        print(f"Scanned files: {snapshot['scan_requests']}", file=out)
        print(f"Infected files: {snapshot['threat_found']}", file=out)
        print(f"Blocked by fallback: {snapshot['fallback_actions']['block']}", file=out)
        for line in summary_lines(snapshot):
            print(line, file=out)
        print(f"Data scanned: {data / 1e6:.2f} MB", file=out)
        print(f"Time: {seconds:.3f} sec ({rate:.1f} MB/s)", file=out)


class Progress:
    """A progress bar on stderr when it is a terminal (files, bytes, rate, ETA)."""

    def __init__(self, files: list[str], enabled: bool) -> None:
        self.bar: Any = None
        if not enabled:
            return
        from tqdm import tqdm  # imported only for terminals: it costs start-up time

        total = 0
        for f in files:
            try:
                total += os.path.getsize(f)
            except OSError:
                pass
        self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                        dynamic_ncols=True, leave=False, desc=f"{len(files)} files")
        self.done = 0
        self.count = len(files)

    def update(self, files: int, nbytes: int) -> None:
        if self.bar is None:
            return
        self.done += files
        self.bar.update(nbytes)
        self.bar.set_description(f"{self.done}/{self.count} files", refresh=False)

    def write(self, text: str) -> None:
        if self.bar is None:
            print(text, flush=True)
        else:
            self.bar.write(text, file=sys.stdout)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- commands --------------------------------------------------------------------


def collect_files(
    paths: Iterable[str], exclude: Sequence[str], follow_symlinks: bool, unreadable: list[tuple[str, OSError]]
) -> Iterator[str]:
    for path in paths:
        if not os.path.lexists(path):
            raise UsageError(f"{path}: no such file or directory")
        yield from iter_files(path, exclude=exclude, follow_symlinks=follow_symlinks,
                              onerror=lambda where, exc: unreadable.append((where, exc)))


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and the
    structured `avgate` payload (policy.log_permitted puts the decision there)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload = getattr(record, "avgate", None)
        if payload is not None:
            data["avgate"] = payload
        return json.dumps(data, default=str)


def configure_log(path: Optional[str]) -> None:
    if not path:
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("avgate")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def cmd_scan(args: argparse.Namespace) -> int:
    configure_log(args.log)
    try:
        engine = make_engine(args)
        summary = Summary()
        paths = args.paths or ["."]
        stdin_wanted = "-" in paths
        unreadable: list[tuple[str, OSError]] = []
        files = list(collect_files([p for p in paths if p != "-"], args.exclude, args.follow_symlinks, unreadable))
    except (DatabaseError, ProfileError, UsageError, OSError, ValueError) as exc:
        print(f"avgate: {exc}", file=sys.stderr)
        return EXIT_ERROR

    show_progress = sys.stderr.isatty() and not (args.quiet or args.json or args.no_progress)
    progress = Progress(files, show_progress)

    def show(result: ScanResult) -> None:
        summary.add(result)
        progress.update(1, input_size(result) if progress.bar is not None else 0)
        for line in output_lines(result, args):
            progress.write(line)

    def show_report(report: Report) -> None:
        summary.add_report(report)
        progress.update(report.files, report.input_bytes)
        for line in report.lines:
            progress.write(line)

    try:
        for where, error in unreadable:  # directories the walk could not list: said, not skipped
            show(engine.unreadable(where, error))
        if stdin_wanted:
            show(engine.scan_fileobj(sys.stdin.buffer, name="stdin"))
        jobs = worker_count(args.jobs)
        if jobs > 1 and len(files) > 1:
            factory = functools.partial(make_engine, args)
            summarize = functools.partial(report_of, args=args)
            for report in scan_files_in_workers(factory, files, jobs, summarize, engine):
                show_report(report)
        else:
            for file in files:
                show(engine.scan_file(file))
    except KeyboardInterrupt:
        progress.close()
        return 130
    progress.close()
    if not (args.no_summary or args.quiet or args.json):
        summary.print(sys.stdout, engine.database.signature_count)
    return summary.exit_code()


def cmd_version(args: argparse.Namespace) -> int:
    try:
        db = load_database(args)
    except (DatabaseError, OSError) as exc:
        print(f"avgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    from ._matcher import kernel

    print(f"avgate {__version__} (matcher kernel: {kernel()})")
    versions = ", ".join(f"{os.path.basename(v['path'])} version {v['version']} ({v['build_time']})"
                         for v in db.versions)
    print(f"database: {db.signature_count} signatures from {len(db.sources)} file(s)"
          + (f"; {versions}" if versions else ""))
    return EXIT_CLEAN


def add_database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--database", action="append", metavar="PATH",
                        help="signature file or directory (.ndb .hdb .hsb .fp .sfp .ign2 .cvd .cld); "
                             "repeatable (default: the shipped database)")
    parser.add_argument("--lenient", action="store_true",
                        help="skip malformed signature lines (counted, see `avgate db info`) instead of "
                             "stopping at the first one")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", metavar="DIR",
                       help="where compiled databases are cached (default: $AVGATE_CACHE_DIR, else "
                            "$XDG_CACHE_HOME/avgate, else ~/.cache/avgate)")
    cache.add_argument("--no-cache", action="store_true",
                       help="compile the database from its sources, neither reading nor writing the cache")


SCAN_EPILOG = """\
output: one line per file, as clamscan prints them:
  PATH: NAME FOUND          a signature matched (PATH names the layer inside containers)
  PATH: OK                  nothing found, nothing blocked
  PATH: REASON ACTION       the scan could not finish there (a fallback reason) and the
                            profile's action for it (BLOCK, LOG-AND-PERMIT, PERMIT)
exit codes: 0 nothing found and nothing blocked, 1 something found,
            2 a fallback blocked or an error
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avgate", description="Antivirus scan engine with a native core.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser(
        "scan", help="scan files, directories or stdin", description="Scan files, directories (recursively) or stdin.",
        epilog=SCAN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: the current directory); - reads stdin")
    add_database_options(scan)
    scan.add_argument("--profile", metavar="FILE[:NAME]",
                      help="profile (TOML or Junos-style) deciding limits and fallback actions; "
                           "NAME picks one of several profiles in FILE")
    scan.add_argument("-j", "--jobs", type=int, metavar="N",
                      help="worker processes (default: the number of cores); they share the compiled "
                           "database through memory-mapped tables")
    scan.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                      help="skip files and directories whose path or name matches GLOB; repeatable")
    scan.add_argument("--follow-symlinks", action="store_true", help="follow symbolic links (default: skip them)")
    scan.add_argument("--json", action="store_true",
                      help="one JSON object per file (path, verdict, detections, errors, decision, bytes, "
                           "seconds) instead of text lines and summary")
    scan.add_argument("-i", "--infected", action="store_true",
                      help="print only files with a detection or a fallback")
    scan.add_argument("--all-match", action="store_true",
                      help="report every matching signature, not only the first one per file")
    scan.add_argument("--log", metavar="FILE",
                      help="append the engine's log records to FILE as JSON lines (one per "
                           "log-and-permit decision, with the reasons and paths)")
    scan.add_argument("--no-summary", action="store_true", help="do not print the summary")
    scan.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    scan.add_argument("-q", "--quiet", action="store_true",
                      help="print only detections and fallbacks; no summary, no progress bar")
    scan.set_defaults(func=cmd_scan)

    cli_db.add_commands(commands)
    cli_profile.add_commands(commands)

    version = commands.add_parser("version", help="engine and database versions",
                                  description="Print the engine version and the database's signature count.")
    add_database_options(version)
    version.set_defaults(func=cmd_version)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "jobs", None) is not None and args.jobs < 1:
        print("avgate: --jobs must be at least 1", file=sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
