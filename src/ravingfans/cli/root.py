"""The root command group: Typer, with each command built only when it runs (see :data:`COMMAND_MODULES`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from importlib import import_module

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

from ravingfans.cli import COMMAND_MODULES


@cache
def commands_of(modules: tuple[str, ...]) -> dict[str, TyperCommand | TyperGroup]:
    """The commands that ``modules`` register, built once per process."""
    part = typer.Typer()
    for name in modules:
        import_module(f"ravingfans.cli.{name}").register(part)
    return dict(typer.main.get_group(part).commands)  # type: ignore[arg-type]


class _LazyCommands(Mapping[str, "TyperCommand | TyperGroup"]):
    """The root group's commands by name, each built on first use from :data:`COMMAND_MODULES`."""

    def __getitem__(self, name: str) -> TyperCommand | TyperGroup:
        if name not in COMMAND_MODULES:
            raise KeyError(name)
        return commands_of(COMMAND_MODULES[name])[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMAND_MODULES)

    def __len__(self) -> int:
        return len(COMMAND_MODULES)


class _LazyGroup(TyperGroup):
    """Typer's group, its command table replaced by one that builds a command only when it is asked for."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands = _LazyCommands()  # type: ignore[assignment]

    def get_help_option(self, ctx: typer.Context) -> object:
        """Typer's ``--help`` flag, its absence read as False rather than None.

        Typer (0.29) checks a flag's value with a pydantic adapter unless it is already a bool, so a None here
        imported pydantic (0.06-0.09 s) before any command ran. Commands with options of their own still import it
        when those are parsed; ``analyze``, whose start-up time is measured, has none (see cli/analyze.py).
        """
        option = super().get_help_option(ctx)  # type: ignore[arg-type]
        if option is not None and option.default is None:
            option.default = False
        return option


app = typer.Typer(
    name="ravingfans",
    cls=_LazyGroup,
    help="Turn customers into raving fans: know them, ask them, listen, and act.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Turn customers into raving fans: know them, ask them, listen, and act."""
