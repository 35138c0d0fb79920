"""Help that reads like a manual: no ``<bool>``/``<str>`` type placeholders.

Typer's help writes each option's Python type (``<str>``, ``<int range>``, and ``<bool>`` even
beside a flag, which takes no value). ``tidy`` walks the whole command tree once, before it
runs, and gives every option a metavar: none for a flag, a word for a value (``TEXT``,
``INTEGER``, ``PATH``, a choice's values; an option may set a better one itself, e.g. ``--db
URL``); an argument is shown by its name alone (``FILE``), its type column dropped. It reads
the tree by the click attributes every Typer has (recent Typers bring a click
of their own, so the classes are not ``click``'s).
"""

from __future__ import annotations

from typing import Any

__all__ = ["tidy"]

_WORDS = {
    "str": "TEXT",
    "text": "TEXT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "int range": "INTEGER",
    "integer range": "INTEGER",
    "float": "NUMBER",
    "float range": "NUMBER",
    "path": "PATH",
    "file": "FILE",
    "directory": "DIRECTORY",
    "datetime": "DATE",
}


def _word(param: Any, ctx: Any) -> str:
    """A value's word from the type Typer would have shown (``<int range>`` → ``INTEGER``);
    a choice keeps its values (``a|b``)."""
    if hasattr(param, "display_type"):  # Typer ≥ 0.2x: its own type descriptor
        label = str(param.display_type(ctx)).strip("<>")
    else:
        label = str(param.type.name)
    if "|" in label:
        return label
    return _WORDS.get(label.lower(), label.upper())


def _no_type(ctx: Any) -> None:
    """An argument's type column: empty (Typer calls it with ``ctx=``)."""
    return None


def tidy(command: Any) -> Any:
    """Set a metavar on every option and argument of ``command`` and its subcommands (and their
    ``--help``); returns ``command``."""
    params = list(command.params)
    ctx = command.context_class(command)
    if (help_option := command.get_help_option(ctx)) is not None:
        params.append(help_option)
    for param in params:
        if param.param_type_name != "option":  # an argument: its name says it (``FILE``)
            if hasattr(param, "display_type_rich"):  # Typer would add its type beside it
                param.display_type_rich = _no_type
        elif param.is_flag:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _word(param, ctx)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    return command
