"""`avgate db info|compile`: the signature database from the command line.

Registered by cli.py through add_commands(). (Filled in by issue 3.)
"""
from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    db = commands.add_parser("db", help="signature database: info, compile")
    sub = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    del sub  # subcommands come with issue 3
