"""`avgate db info|compile`: the signature database from the command line.

Registered by cli.py through add_commands().

    avgate db info [-d PATH]... [--strict] [--cache-dir DIR | --no-cache] [--json]
    avgate db compile [-d PATH]... [--strict] [--cache-dir DIR]

Exit codes: 0 done, 2 the database could not be loaded or cached.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from .database import SIGNATURE_KINDS, Database, DatabaseError, default_database_dir

__all__ = ["add_commands"]

EXIT_OK, EXIT_ERROR = 0, 2

_DATABASE_HELP = ("signature file or directory: .ndb .hdb .hsb .fp .sfp .ign2 .cvd .cld (repeatable; "
                  "a directory's files load in name order; default: the database shipped with avgate)")
_STRICT_HELP = ("stop at the first malformed line, naming file, line and fault, as `avgate scan` does "
                "(default here: skip such lines, count them and list them)")
_CACHE_DIR_HELP = ("where compiled databases are cached (default: $AVGATE_CACHE_DIR, else "
                   "$XDG_CACHE_HOME/avgate, else ~/.cache/avgate)")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    db = commands.add_parser(
        "db", help="signature database: info, compile",
        description="Inspect or precompile signature databases in ClamAV's formats.")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")

    info = sub.add_parser(
        "info", help="what a database holds, how long it takes to load",
        description="Load the database and show the signatures it holds by kind, the kinds it holds "
                    "that avgate does not match yet, lines skipped, versions of packed databases "
                    "(.cvd/.cld), the load time and whether the compiled cache was used.")
    _common(info)
    cache = info.add_mutually_exclusive_group()
    cache.add_argument("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)
    cache.add_argument("--no-cache", action="store_true",
                       help="compile from the sources, neither reading nor writing the cache")
    info.add_argument("--json", action="store_true", help="print the facts as one JSON object")
    info.set_defaults(func=cmd_info)

    compile_ = sub.add_parser(
        "compile", help="compile a database into the cache",
        description="Compile the database and write it to the cache, keyed by the content of the "
                    "source files, so that the next start with the same files maps it instead of "
                    "compiling (avgate scan and the Python API use the cache by themselves).")
    _common(compile_)
    compile_.add_argument("--cache-dir", metavar="DIR", help=_CACHE_DIR_HELP)
    compile_.set_defaults(func=cmd_compile)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--database", action="append", metavar="PATH", help=_DATABASE_HELP)
    parser.add_argument("--strict", action="store_true", help=_STRICT_HELP)


def _paths(args: argparse.Namespace) -> Sequence[str]:
    return args.database or [str(default_database_dir())]


def cmd_info(args: argparse.Namespace) -> int:
    try:
        # the same cache policy as a scan: the facts shown are the ones a scan would see
        db = Database.load(_paths(args), strict=args.strict,
                           cache=False if args.no_cache else (True if args.cache_dir else None),
                           cache_dir=args.cache_dir)
    except (DatabaseError, OSError) as exc:
        print(f"avgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    facts = db.info()
    if args.json:
        print(json.dumps(facts, indent=2, sort_keys=True))
    else:
        print(render_info(facts))
    return EXIT_OK


def cmd_compile(args: argparse.Namespace) -> int:
    try:
        db = Database.compile(_paths(args), strict=args.strict, cache_dir=args.cache_dir)
    except (DatabaseError, OSError) as exc:
        print(f"avgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"compiled {db.signature_count} signatures from {len(db.sources)} file(s) in {db.load_seconds:.3f} s")
    _warn_skipped(db.info())
    if not db.cache_status.endswith("cached"):
        print(f"avgate: {db.cache_status}", file=sys.stderr)
        return EXIT_ERROR
    print(f"cache: {db.cache_path}")
    return EXIT_OK


def _warn_skipped(facts: dict[str, Any]) -> None:
    if facts["bad_lines"]:
        print(f"avgate: warning: skipped {facts['bad_lines']} malformed line(s); first: {facts['problems'][0]}",
              file=sys.stderr)


def _table(rows: list[tuple[str, Any]], indent: str = "  ") -> list[str]:
    width = max((len(label) for label, _ in rows), default=0)
    return [f"{indent}{label:<{width}}  {value:>10}" if isinstance(value, int) else f"{indent}{label:<{width}}  {value}"
            for label, value in rows]


def render_info(facts: dict[str, Any]) -> str:
    """The human-readable form of Database.info()."""
    lines = ["Sources:"] + [f"  {s}" for s in facts["sources"]]
    for v in facts["versions"]:
        lines.append(f"Packed database {v['path']}: version {v['version']}, {v['signatures']} signatures, "
                     f"built {v['build_time']} (functionality level {v['functionality_level']}"
                     + (f", by {v['builder']}" if v["builder"] else "") + ")")
    lines.append(f"Signatures loaded: {facts['signatures']}")
    rows = []
    for kind, count in facts["counts"].items():
        rows.append((f"{kind} ({SIGNATURE_KINDS.get('.' + kind, kind)})", count))
    for label, count in facts["details"].items():
        rows.append((f"  {label}", count))
    lines += _table(rows)
    if facts["hashes"] or facts["allow"]:
        hashes = ", ".join(f"{k} {n}" for k, n in facts["hashes"].items()) or "none"
        allow = ", ".join(f"{k} {n}" for k, n in facts["allow"].items()) or "none"
        lines.append(f"Hash signatures by digest: {hashes}; allow list: {allow}")
    if facts["ignored"]:
        lines.append(f"Dropped by .ign2: {facts['ignored']}")
    if facts["unsupported"]:
        lines.append(f"Not supported yet (counted, not loaded): {sum(facts['unsupported'].values())}")
        lines += _table(sorted(facts["unsupported"].items(), key=lambda kv: (-kv[1], kv[0])))
    if facts["bad_lines"]:
        lines.append(f"Malformed lines skipped: {facts['bad_lines']}")
        lines += [f"  {p}" for p in facts["problems"]]
        if facts["bad_lines"] > len(facts["problems"]):
            lines.append(f"  ... and {facts['bad_lines'] - len(facts['problems'])} more")
    cache = facts["cache"]
    where = f" ({cache['path']})" if cache["path"] else ""
    lines.append(f"Load time: {facts['load_seconds']:.3f} s; {cache['status']}{where}")
    return "\n".join(lines)
