"""`avgate profile show|check`: profiles from the command line.

Registered by cli.py through add_commands(). (Filled in by issue 5.)
"""
from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    profile = commands.add_parser("profile", help="profiles: show, check")
    sub = profile.add_subparsers(dest="profile_command", required=True, metavar="PROFILE_COMMAND")
    del sub  # subcommands come with issue 5
