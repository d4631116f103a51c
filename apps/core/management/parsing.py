"""Command-line parsing shared by management commands."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser


class ValuesMayStartWithDashParser(CommandParser):
    """A parser for commands whose positional values are opaque strings (tokens): a value that
    starts with ``-`` but is none of the command's options (a token A such as ``-k3Fq…``) is a
    positional value, not an unknown option. Real options, and ``--``, work as usual."""

    @classmethod
    def adopt(cls, parser: CommandParser) -> CommandParser:
        """The parser Django built for a command, with this parsing (it adds no state, so the
        class of the built parser is swapped: Django offers no hook to choose it)."""
        parser.__class__ = cls
        return parser

    def _parse_optional(self, arg_string: str) -> Any:
        name = arg_string.split("=", 1)[0]
        options = self._option_string_actions
        if (
            arg_string.startswith("-")
            and arg_string != "--"
            and name not in options
            and not (name.startswith("--") and any(o.startswith(name) for o in options))
        ):
            return None
        return super()._parse_optional(arg_string)
