"""The users page: owners see every account and add users, change roles, disable and enable them, set passwords.

Handlers only translate HTTP to :mod:`ravingfans.services.users` calls and back; the rules (the last
active owner stays an owner, nobody disables themselves, the password rules) are the service's, and
a refusal is shown by the app's one error page. Each change ends in a 303 back to the list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ravingfans.db.models import ROLES
from ravingfans.services import accounts
from ravingfans.services import users as users_service
from ravingfans.web.auth import OwnerUser
from ravingfans.web.deps import SessionDep, TemplatesDep, WriteSessionDep

router = APIRouter()

SAVED_MESSAGES = {
    "added": "User added.",
    "role": "Role changed.",
    "disabled": "User disabled; their sessions and API tokens have ended.",
    "enabled": "User enabled: they can sign in again with their password; API tokens revoked when they were "
               "disabled stay revoked.",
    "active": "That user is active already; nothing changed.",
    "password": "Password set; their open sessions have ended.",
}
MAX_EMAIL_FIELD = 1000  # longer than any address (254), so the service's own message names what is wrong
MAX_PASSWORD_FIELD = 4 * accounts.MAX_PASSWORD  # room for NFKC to shrink it; the service has the last word

Email = Annotated[str, Form(max_length=MAX_EMAIL_FIELD)]
Password = Annotated[str, Form(max_length=MAX_PASSWORD_FIELD)]
Role = Annotated[str, Form(max_length=20)]


def _saved(what: str, user_id: int) -> RedirectResponse:
    return RedirectResponse(f"/users?saved={what}#user-{user_id}", status_code=303)


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, owner: OwnerUser, session: SessionDep, templates: TemplatesDep,
               saved: str = "") -> HTMLResponse:
    """Every user with their role, status, creation and last sign-in, with forms to manage them."""
    return templates.TemplateResponse(request, "users.html", {
        "users": users_service.list_users(session),
        "my_id": owner.user_id,
        "roles": ROLES,
        "saved_message": SAVED_MESSAGES.get(saved),
        "min_password": accounts.MIN_PASSWORD,
        "max_password": accounts.MAX_PASSWORD,
    })


@router.post("/users")
def add_user(owner: OwnerUser, session: WriteSessionDep, email: Email = "", role: Role = "",
             password: Password = "", password_repeat: Password = "") -> RedirectResponse:
    """Add a user who can sign in at once."""
    user = users_service.add_user(session, email, role, password, password_repeat, actor_id=owner.user_id)
    return _saved("added", user.id)


@router.post("/users/{user_id:int}/role")
def change_role(user_id: int, owner: OwnerUser, session: WriteSessionDep, role: Role = "") -> RedirectResponse:
    """Change a user's role (an owner who made themselves a manager goes to the home page)."""
    user = users_service.change_role(session, user_id, role, actor_id=owner.user_id)
    if user.id == owner.user_id and user.role != users_service.OWNER:
        return RedirectResponse("/", status_code=303)
    return _saved("role", user.id)


@router.post("/users/{user_id:int}/disable")
def disable_user(user_id: int, owner: OwnerUser, session: WriteSessionDep) -> RedirectResponse:
    """Disable a user: they are signed out everywhere and their API tokens stop working."""
    user = users_service.disable(session, user_id, actor_id=owner.user_id)
    return _saved("disabled", user.id)


@router.post("/users/{user_id:int}/enable")
def enable_user(user_id: int, owner: OwnerUser, session: WriteSessionDep) -> RedirectResponse:
    """Enable a disabled user: they can sign in again with their password."""
    result = users_service.enable(session, user_id, actor_id=owner.user_id)
    return _saved("enabled" if result.changed else "active", result.user.id)


@router.post("/users/{user_id:int}/password")
def set_password(user_id: int, owner: OwnerUser, session: WriteSessionDep, password: Password = "",
                 password_repeat: Password = "") -> RedirectResponse:
    """Give a user a new password; their open sessions end (an owner's own included)."""
    user = users_service.set_password(session, user_id, password, password_repeat, actor_id=owner.user_id)
    return _saved("password", user.id)
