"""Typed configs as the single source of truth for a command line.

A component's settings live in one dataclass. Each field carries its help text in its metadata
(:func:`option`); :func:`add_config_arguments` turns the fields into ``argparse`` flags whose help
states the defaults, and :func:`config_from_args` reads the flags back onto a base config. Nothing
is written twice: a new field is a new flag, with its default taken from the dataclass.

Supported field types: ``int``, ``float``, ``str``, ``bool``, ``tuple[X, ...]`` of those (given as
comma-separated values) and ``X | None`` of any of them (given as ``none``).

Examples
--------
>>> import argparse
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Toy:
...     frames: int = option(1_000, "frames to learn from")
...     hidden: tuple[int, ...] = option((64, 64), "hidden widths")
...     decay: float | None = option(0.99, "weight-average decay ('none': no average)")
>>> parser = argparse.ArgumentParser()
>>> add_config_arguments(parser, Toy, presets={"full": Toy(), "quick": Toy(frames=10)})
>>> args = parser.parse_args(["--hidden", "8,8", "--decay", "none"])
>>> config_from_args(args, Toy(frames=10))
Toy(frames=10, hidden=(8, 8), decay=None)
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ffstream._checks import check_choice

__all__ = [
    "add_config_arguments",
    "check_choices",
    "config_from_args",
    "config_from_dict",
    "flag_name",
    "format_value",
    "option",
]


def option(
    default: Any,
    help: str,
    *,
    choices: Sequence[Any] | None = None,
    flag: str | None = None,
    cli: bool = True,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """A dataclass field with its command-line help.

    Parameters
    ----------
    default
        The field's default (immutable: use tuples, not lists).
    help
        One phrase for ``--help``; the defaults are appended for you.
    choices
        Allowed values (for a tuple field: allowed elements).
    flag
        The flag, when it is not ``--`` plus the field name with dashes.
    cli
        ``False`` keeps the field off the command line (set only in code).
    metadata
        Further metadata for whoever reads the fields (for example the benchmark lab's
        ``select``).
    """
    extra = dict(metadata or {})
    own = {"help": help, "choices": tuple(choices) if choices else None, "flag": flag, "cli": cli}
    return dataclasses.field(default=default, metadata={**extra, **own})


def check_choices(config: Any) -> None:
    """``ValueError`` naming the first field whose value is not among its :func:`option`
    ``choices`` (the CLI enforces them too; this is for configs made in code or from files).

    Examples
    --------
    >>> @dataclasses.dataclass
    ... class Small:
    ...     mode: str = option("fast", "how", choices=("fast", "slow"))
    >>> check_choices(Small(mode="quick"))
    Traceback (most recent call last):
    ...
    ValueError: mode must be one of 'fast', 'slow', got 'quick'
    """
    for field in dataclasses.fields(config):
        choices = field.metadata.get("choices")
        if choices:
            check_choice(getattr(config, field.name), field.name, choices)


def config_from_dict(cls: type, data: Any, kind: str) -> Any:
    """``cls(**data)`` for a config dataclass, naming an unknown key (and the likely one).

    Examples
    --------
    >>> @dataclasses.dataclass
    ... class Small:
    ...     width: int = 8
    >>> config_from_dict(Small, {"widht": 4}, "Small")
    Traceback (most recent call last):
    ...
    ValueError: unknown Small config key 'widht'; did you mean 'width'?
    """
    if not isinstance(data, dict):
        raise ValueError(f"a {kind} config is a dict, got {type(data).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {kind} config key {key!r}{hint}")
    return cls(**data)


def flag_name(field: dataclasses.Field) -> str:
    """The command-line flag of ``field``: ``--ff-lr`` for a field named ``ff_lr``."""
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def format_value(value: Any) -> str:
    """A value as it is typed on the command line: tuples comma-separated, ``None`` as none."""
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(format_value(v) for v in value)
    return str(value)


def add_config_arguments(
    parser: argparse.ArgumentParser,
    config_type: type,
    *,
    presets: Mapping[str, Any] | None = None,
    skip: Sequence[str] = (),
) -> None:
    """Add one flag per field of the dataclass ``config_type`` to ``parser``.

    Flags that are not given stay out of the parsed namespace, so :func:`config_from_args`
    changes only what the user typed. ``presets`` (for example ``{"full": FULL, "quick":
    QUICK}``) are named in each flag's help where their values differ.
    """
    hints = typing.get_type_hints(config_type)
    for field in dataclasses.fields(config_type):
        if field.name in skip or not field.metadata.get("cli", True) or not field.init:
            continue
        parse, is_bool = _parser_for(hints[field.name], field.metadata.get("choices"))
        if presets:
            values = {name: getattr(cfg, field.name) for name, cfg in presets.items()}
        else:  # the field's own default (a config may have required fields, set in code)
            values = {"default": field.default}
        shown = {format_value(v) for v in values.values()}
        if len(shown) == 1:
            defaults = f"default {shown.pop()}"
        else:
            defaults = "; ".join(f"{name}: {format_value(v)}" for name, v in values.items())
        help_text = f"{field.metadata.get('help', '')} ({defaults})".replace("%", "%%")
        common = dict(dest=field.name, default=argparse.SUPPRESS, help=help_text)
        if is_bool:
            parser.add_argument(flag_name(field), action=argparse.BooleanOptionalAction, **common)
        else:
            parser.add_argument(flag_name(field), type=parse, metavar=_metavar(field), **common)


def config_from_args(args: argparse.Namespace, base: Any, *, skip: Sequence[str] = ()) -> Any:
    """``base`` with every field the user gave on the command line replaced.

    The dataclass's own checks (``__post_init__``) run on the result, so a bad combination is
    refused with the same ``ValueError`` as in code.
    """
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(base)
        if f.name not in skip and hasattr(args, f.name)
    }
    return dataclasses.replace(base, **given)


# ---------------------------------------------------------------------------- parsing
def _parser_for(hint: Any, choices: Sequence[Any] | None) -> tuple[Callable[[str], Any], bool]:
    """A function that parses one flag's text into ``hint``, and whether it is a plain bool."""
    optional = False
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        optional = len(members) < len(args)
        if len(members) != 1:
            raise TypeError(f"unsupported config type {hint!r}")
        hint = members[0]
    if hint is bool and not optional:
        return bool, True
    if typing.get_origin(hint) is tuple:
        element = _scalar(typing.get_args(hint)[0], choices)

        def parse(text: str) -> Any:
            if optional and text.strip().lower() == "none":
                return None
            parts = [p.strip() for p in text.split(",") if p.strip()]
            if not parts:
                raise argparse.ArgumentTypeError("give at least one comma-separated value")
            return tuple(element(p) for p in parts)

        return parse, False
    scalar = _scalar(hint, choices)

    def parse_scalar(text: str) -> Any:
        if optional and text.strip().lower() == "none":
            return None
        return scalar(text)

    return parse_scalar, False


def _scalar(hint: Any, choices: Sequence[Any] | None) -> Callable[[str], Any]:
    if hint not in (int, float, str, bool):
        raise TypeError(f"unsupported config type {hint!r}")

    def parse(text: str) -> Any:
        try:
            if hint is bool:
                value = {"true": True, "1": True, "false": False, "0": False}[text.lower()]
            else:
                value = hint(text)
        except (ValueError, KeyError):
            raise argparse.ArgumentTypeError(f"expected {hint.__name__}, got {text!r}") from None
        if hint is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if choices and value not in choices:
            listed = ", ".join(map(str, choices))
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {listed}")
        return value

    return parse


def _metavar(field: dataclasses.Field) -> str:
    choices = field.metadata.get("choices")
    if choices:
        return "{" + ",".join(map(str, choices)) + "}"
    return field.name.upper()
