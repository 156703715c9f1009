"""Translations of what customers read (survey pages, e-mail): gettext catalogs, one per language.

Each domain keeps its own catalog file (``locale/<lang>/LC_MESSAGES/<domain>.po``, e.g. ``mail.po`` and
``surveys.po``) so features translate independently; :func:`translations` merges every catalog of a
language. The ``.po`` files are compiled in memory with Babel when first used, so there is no build step
and no ``.mo`` file to forget. English is the source language: its texts are the message ids.
"""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from importlib.resources import files

from babel.messages.mofile import write_mo
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from babel.messages.pofile import read_po

#: Languages a customer can be served in, with their own names (for pickers).
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
DEFAULT_LANGUAGE = "en"


def best_language(preferred: str | None) -> str:
    """The shipped language closest to a customer's (``es-MX`` → ``es``); English when none fits."""
    if not preferred:
        return DEFAULT_LANGUAGE
    code = preferred.strip().replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


@lru_cache(maxsize=None)
def translations(language: str | None) -> gettext.NullTranslations:
    """Every catalog of the customer's language merged into one; identity for English."""
    code = best_language(language)
    if code == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    folder = files("ravingfans").joinpath("locale", code, "LC_MESSAGES")
    merged: gettext.GNUTranslations | None = None
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as handle:
            catalog = read_po(handle, locale=code)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        loaded = gettext.GNUTranslations(buffer)
        if merged is None:
            merged = loaded
        else:
            merged.add_fallback(loaded)  # a message missing from one catalog is looked up in the next
    return merged if merged is not None else gettext.NullTranslations()


def gettext_for(language: str | None):  # noqa: ANN201 - returns the catalog's bound gettext
    """``_`` for one customer's language."""
    return translations(language).gettext


def ngettext_for(language: str | None):  # noqa: ANN201
    """``ngettext`` for one customer's language."""
    return translations(language).ngettext


@lru_cache(maxsize=None)
def translated_environment(folder: str, language: str, *, autoescape: bool = True,
                           keep_trailing_newline: bool = False) -> Environment:
    """Jinja2 templates from ``folder`` translated into ``language``: what customers read (pages, e-mail).

    One environment per (folder, language, escaping), built once: an environment is safe to share across
    threads once made, and gettext is installed into it rather than switched per render. The templates ship
    inside the package and do not change while it runs, so they are not checked for changes at each render
    (``auto_reload=False``: a campaign renders thousands of messages).
    """
    env = Environment(loader=FileSystemLoader(folder), autoescape=autoescape, undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=keep_trailing_newline, auto_reload=False)
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env
