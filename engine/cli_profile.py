"""`avgate profile show|check`: profiles from the command line.

    avgate profile show                    the built-in default profile
    avgate profile show -f FILE [NAME]     one profile of a file, or all of them
    avgate profile show --set ...          as `set ...` lines instead of braces
    avgate profile check FILE...           validate; errors name file and line

Registered by cli.py through add_commands(). Exit codes: 0 valid, 2 an
error (printed to stderr).
"""
from __future__ import annotations

import argparse
import sys

from .profile import Profile, ProfileError, load_profiles
from .profile_junos import format_curly, format_set

__all__ = ["add_commands", "cmd_show", "cmd_check"]

EXIT_OK, EXIT_ERROR = 0, 2


def cmd_show(args: argparse.Namespace) -> int:
    try:
        if args.file is None:
            profiles = {"default": Profile()}
            if args.name not in (None, "default"):
                raise ProfileError(f"no profile {args.name!r} without --file (built in: default)")
        else:
            profiles = load_profiles(args.file)
        if args.name is not None:
            if args.name not in profiles:
                raise ProfileError(f"no profile {args.name!r} (profiles: {', '.join(profiles) or 'none'})", args.file or "")
            profiles = {args.name: profiles[args.name]}
    except ProfileError as exc:
        print(f"avgate: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print((format_set if args.set else format_curly)(list(profiles.values())), end="")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        try:
            profiles = load_profiles(path)
        except ProfileError as exc:
            print(f"avgate: {exc}", file=sys.stderr)
            status = EXIT_ERROR
            continue
        names = ", ".join(profiles) if profiles else "no profiles"
        print(f"{path}: OK ({len(profiles)} profile{'s' if len(profiles) != 1 else ''}: {names})")
    return status


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    profile = commands.add_parser("profile", help="profiles: show, check", description="Show and validate profiles.")
    sub = profile.add_subparsers(dest="profile_command", required=True, metavar="PROFILE_COMMAND")

    show = sub.add_parser("show", help="print the effective profile(s) in the curly-brace form")
    show.add_argument("name", nargs="?", metavar="NAME", help="the profile to print (default: all in the file)")
    show.add_argument("-f", "--file", metavar="FILE", help="profile file (.toml or Junos-style); default: built-in")
    show.add_argument("--set", action="store_true", help="print `set ...` lines instead of the curly-brace form")
    show.set_defaults(func=cmd_show)

    check = sub.add_parser("check", help="validate profile files")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(func=cmd_check)
