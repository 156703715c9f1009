"""`ravingfans user add|list|disable|enable|password` and `ravingfans token create|revoke`: who signs in, API tokens.

There is no default account: the first owner is made with `user add`. Passwords are read with hidden
input (twice) or as one line of standard input for scripts; neither passwords, tokens nor hashes are
ever printed, except the new token itself, once, alone on the last line of stdout.
"""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from ravingfans.cli import context
from ravingfans.cli.output import info, stdout
from ravingfans.errors import ValidationFailed


class Role(StrEnum):
    """What a user may do: staff read and log, managers also edit and export, owners everything."""

    owner = "owner"
    manager = "manager"
    staff = "staff"


def register(app: typer.Typer) -> None:
    """Add the `user` and `token` command groups to the app."""
    users = typer.Typer(help="Manage who can sign in (owners, managers, staff).", no_args_is_help=True)
    users.command("add")(add)
    users.command("list")(list_)
    users.command("disable")(disable)
    users.command("enable")(enable)
    users.command("password")(password_)
    app.add_typer(users, name="user")
    tokens = typer.Typer(help="Manage personal access tokens for the REST API.", no_args_is_help=True)
    tokens.command("create")(create)
    tokens.command("revoke")(revoke)
    app.add_typer(tokens, name="token")


def _read_stdin_password() -> str:
    """One line of standard input, without its line ending; an empty input is refused."""
    line = sys.stdin.readline()
    if not line:
        raise ValidationFailed("--password-stdin was given but standard input is empty.", field="password",
                               hint="Pipe the password in, e.g. `printf '%s\\n' \"$PW\" | ravingfans user add ...`.")
    return line.removesuffix("\n").removesuffix("\r")


def add(
    email: str = typer.Argument(..., help="The user's e-mail address (their sign-in name)."),
    role: Role = typer.Option(..., "--role", help="owner, manager or staff."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from one line of standard input instead of asking."),
) -> None:
    """Add a user who can sign in; asks for the password twice (hidden) unless --password-stdin."""
    from ravingfans.services.accounts import add_user, check_password

    if password_stdin:
        password = _read_stdin_password()
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    check_password(password)  # before opening the database: a quick refusal names what to change
    db = context.database()
    try:
        with db.session(write=True) as session:
            user = add_user(session, email, role.value, password)
            shown = f"Added {user.role} {user.email} (user #{user.id})."
    finally:
        db.dispose()
    info(shown)


def password_(
    email: str = typer.Argument(..., help="The user whose password changes."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from one line of standard input instead of asking."),
) -> None:
    """Set a user's password (asked twice, hidden, unless --password-stdin); their sessions end."""
    from ravingfans.services.accounts import check_password, set_password

    if password_stdin:
        password = _read_stdin_password()
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    check_password(password)
    db = context.database()
    try:
        with db.session(write=True) as session:
            user = set_password(session, email, password)
            shown = f"Changed the password of {user.email}; their open sessions have ended."
    finally:
        db.dispose()
    info(shown)


def list_() -> None:
    """List every user: e-mail, role, whether active, when added and when last signed in."""
    from rich.table import Table

    from ravingfans.services.accounts import list_users

    db = context.database()
    try:
        with db.session() as session:
            rows = [(f"#{u.id}", u.email, u.role, "active" if u.active else "disabled",
                     u.created_at.strftime("%Y-%m-%d %H:%M"),
                     u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never")
                    for u in list_users(session)]
    finally:
        db.dispose()
    if not rows:
        info("No users yet. Add the first owner with: ravingfans user add EMAIL --role owner")
        return
    table = Table("id", "e-mail", "role", "status", "added (UTC)", "last sign-in (UTC)", title="Users")
    for row in rows:
        table.add_row(*row)
    stdout.print(table, markup=False, highlight=False)


def disable(email: str = typer.Argument(..., help="The e-mail address of the user to disable.")) -> None:
    """Disable a user: they can no longer sign in, and every API token they hold is revoked."""
    from ravingfans.services.accounts import disable_user

    db = context.database()
    try:
        with db.session(write=True) as session:
            user = disable_user(session, email)
            shown = f"Disabled {user.email} (user #{user.id}); their API tokens are revoked."
    finally:
        db.dispose()
    info(shown)


def enable(email: str = typer.Argument(..., help="The e-mail address of the user to enable.")) -> None:
    """Let a disabled user sign in again with their password; API tokens revoked before stay revoked."""
    from ravingfans.services.accounts import enable_user

    db = context.database()
    try:
        with db.session(write=True) as session:
            result = enable_user(session, email)
            user = result.user
            if not result.changed:
                shown = f"{user.email} is active already; nothing changed."
            else:
                shown = (f"Enabled {user.email} (user #{user.id}): they can sign in again. API tokens revoked "
                         "when they were disabled stay revoked; make new ones with: "
                         f"ravingfans token create --user {user.email}")
    finally:
        db.dispose()
    info(shown)


def create(
    user: str = typer.Option(..., "--user", help="The e-mail address of the user the token acts as."),
    name: str = typer.Option("api", "--name", help="What the token is for, to recognise it later."),
) -> None:
    """Create an API token for a user; it is printed once, alone on the last line of stdout."""
    from ravingfans.services.accounts import create_token

    db = context.database()
    try:
        with db.session(write=True) as session:
            issued = create_token(session, user, name)
    finally:
        db.dispose()
    info(f"Token #{issued.id} ({issued.name!r}) created. It is shown only once: store it now. "
         f"Revoke it with: ravingfans token revoke {issued.id}")
    sys.stdout.write(issued.token + "\n")
    sys.stdout.flush()


def revoke(token_id: int = typer.Argument(..., help="The id of the token (shown when it was created).")) -> None:
    """Revoke an API token so it no longer works."""
    from ravingfans.services.accounts import revoke_token

    db = context.database()
    try:
        with db.session(write=True) as session:
            row = revoke_token(session, token_id)
            shown = f"Token #{row.id} ({row.name!r}) is revoked."
    finally:
        db.dispose()
    info(shown)
