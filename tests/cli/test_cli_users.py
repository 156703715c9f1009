"""`ravingfans user add|list|disable|enable` and `token create|revoke`, run in-process through cli.main."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ravingfans.db import Database
from ravingfans.db.models import ApiToken, User
from ravingfans.services.accounts import token_user, verify_password

GOOD = "plum kettle orbit lantern"
Run = Callable[[list[str]], int]


@pytest.fixture
def cli_db(db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The test database, with the CLI pointed at it."""
    monkeypatch.setenv("RAVINGFANS_DATABASE_URL", database_url)
    return db


def _add(run_cli: Run, monkeypatch: pytest.MonkeyPatch, email: str, password: str = GOOD, role: str = "owner") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return run_cli(["user", "add", email, "--role", role, "--password-stdin"])


def test_user_add_reads_password_from_stdin(run_cli: Run, cli_db: Database, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(run_cli, monkeypatch, "Ann@Example.com") == 0
    out = capsys.readouterr()
    assert "ann@example.com" in out.err and GOOD not in out.out + out.err and "$argon2" not in out.out + out.err
    with cli_db.session() as s:
        user = verify_password(s, "ann@example.com", GOOD)
        assert user is not None and user.role == "owner" and user.password_hash.startswith("$argon2id$")


def test_user_add_asks_twice_with_hidden_input(cli_db: Database) -> None:
    from ravingfans.cli import app

    result = CliRunner().invoke(app, ["user", "add", "bob@example.com", "--role", "staff"],
                                input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert GOOD not in result.output  # hidden input is not echoed
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    with cli_db.session() as s:
        assert verify_password(s, "bob@example.com", GOOD).role == "staff"


@pytest.mark.parametrize(("password", "message"), [
    ("seven77", "at least 8"),
    ("Password1", "commonly used"),
    ("", "at least 8"),
])
def test_user_add_refuses_bad_passwords(run_cli: Run, cli_db: Database, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str], password: str, message: str) -> None:
    assert _add(run_cli, monkeypatch, "ann@example.com", password) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with cli_db.session() as s:
        assert s.scalars(select(User)).all() == []


def test_user_add_with_empty_stdin_is_refused(run_cli: Run, cli_db: Database, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert run_cli(["user", "add", "ann@example.com", "--role", "owner", "--password-stdin"]) == 2
    assert "standard input is empty" in capsys.readouterr().err


def test_duplicate_user_and_bad_role_are_refused(run_cli: Run, cli_db: Database, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(run_cli, monkeypatch, "ann@example.com") == 0
    capsys.readouterr()
    assert _add(run_cli, monkeypatch, "ANN@example.com") == 2
    assert "already exists" in capsys.readouterr().err
    assert _add(run_cli, monkeypatch, "bob@example.com", role="boss") == 2
    with cli_db.session() as s:
        assert [u.email for u in s.scalars(select(User))] == ["ann@example.com"]


def test_user_list_shows_users_without_secrets(run_cli: Run, cli_db: Database, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["user", "list"]) == 0
    assert "No users yet" in capsys.readouterr().err
    assert _add(run_cli, monkeypatch, "zed@example.com", role="staff") == 0
    assert _add(run_cli, monkeypatch, "amy@example.com", role="manager") == 0
    capsys.readouterr()
    assert run_cli(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert out.index("amy@example.com") < out.index("zed@example.com")
    assert "manager" in out and "staff" in out and "$argon2" not in out and GOOD not in out


def test_token_create_prints_token_alone_on_last_line(run_cli: Run, cli_db: Database,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(run_cli, monkeypatch, "ann@example.com") == 0
    capsys.readouterr()
    assert run_cli(["token", "create", "--user", "ann@example.com", "--name", "books"]) == 0
    out = capsys.readouterr()
    token = out.out.splitlines()[-1]
    assert token.startswith("rf_") and token == token.strip() and out.out.endswith(token + "\n")
    with cli_db.session(write=True) as s:
        row = s.scalars(select(ApiToken)).one()
        assert row.name == "books" and row.token_hash not in out.out + out.err
        assert f"token revoke {row.id}" in out.err
        assert token_user(s, token).email == "ann@example.com"


def test_token_revoke_and_user_disable_stop_tokens(run_cli: Run, cli_db: Database, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(run_cli, monkeypatch, "ann@example.com") == 0
    assert run_cli(["token", "create", "--user", "ann@example.com"]) == 0
    first = capsys.readouterr().out.splitlines()[-1]
    assert run_cli(["token", "create", "--user", "ann@example.com", "--name", "second"]) == 0
    second = capsys.readouterr().out.splitlines()[-1]
    with cli_db.session() as s:
        first_id = s.scalar(select(ApiToken.id).where(ApiToken.name == "api"))
    assert run_cli(["token", "revoke", str(first_id)]) == 0
    with cli_db.session(write=True) as s:
        assert token_user(s, first) is None and token_user(s, second) is not None
    assert run_cli(["token", "revoke", "999"]) == 4
    assert "No API token with id 999" in capsys.readouterr().err
    assert run_cli(["user", "disable", "ann@example.com"]) == 0
    assert "revoked" in capsys.readouterr().err
    with cli_db.session(write=True) as s:
        assert token_user(s, second) is None
        assert verify_password(s, "ann@example.com", GOOD) is None
        assert all(t.revoked_at is not None for t in s.scalars(select(ApiToken)))
    assert run_cli(["token", "create", "--user", "ann@example.com"]) == 2
    assert "disabled" in capsys.readouterr().err
    assert run_cli(["user", "enable", "ann@example.com"]) == 0
    assert "can sign in again" in capsys.readouterr().err
    with cli_db.session(write=True) as s:
        assert verify_password(s, "ann@example.com", GOOD) is not None
        assert token_user(s, second) is None  # tokens revoked at disable stay revoked
    assert run_cli(["token", "create", "--user", "ann@example.com"]) == 0
    capsys.readouterr()
    assert run_cli(["user", "enable", "ann@example.com"]) == 0
    assert "active already; nothing changed" in capsys.readouterr().err
    assert run_cli(["user", "enable", "nobody@example.com"]) == 4


def test_unknown_user_is_not_found(run_cli: Run, cli_db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["user", "disable", "nobody@example.com"]) == 4
    assert run_cli(["token", "create", "--user", "nobody@example.com"]) == 4
    assert "No user with e-mail nobody@example.com" in capsys.readouterr().err


def test_user_password_changes_it_and_refuses_weak_ones(run_cli: Run, cli_db: Database,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(run_cli, monkeypatch, "ann@example.com") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run_cli(["user", "password", "ann@example.com", "--password-stdin"]) == 2
    assert "at least 8" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("orbit plum kettle again\n"))
    assert run_cli(["user", "password", "ANN@example.com", "--password-stdin"]) == 0
    assert "open sessions have ended" in capsys.readouterr().err
    with cli_db.session() as s:
        assert verify_password(s, "ann@example.com", GOOD) is None
        assert verify_password(s, "ann@example.com", "orbit plum kettle again") is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("orbit plum kettle again\n"))
    assert run_cli(["user", "password", "nobody@example.com", "--password-stdin"]) == 4
