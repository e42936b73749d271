"""Translations for operator-facing text.

Message ids are English; Vietnamese, the default language, comes from gettext ``.po`` files
under ``locale/vi/LC_MESSAGES``, one file per area (``cli``, ``alerts``, ``dashboard``, ...).
Babel reads the ``.po`` files directly, so no compiled ``.mo`` files are kept in git.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LOCALE_DIR = Path(__file__).parent / "locale"

Translate = Callable[..., str]


def resolve_language(requested: str | None = None) -> str:
    """Return a supported language: the requested one, else ``INTEGRATION_MONITOR_LANG``, else Vietnamese."""
    language = (requested or os.environ.get("INTEGRATION_MONITOR_LANG") or DEFAULT_LANGUAGE).lower()
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language '{language}', expected one of {', '.join(LANGUAGES)}")
    return language


@lru_cache(maxsize=32)
def _messages(domain: str, language: str) -> dict[str, str]:
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"
    if language == "en" or not path.is_file():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=domain)
    return {str(message.id): str(message.string) for message in catalog if message.id and message.string}


def translator(domain: str, language: str | None = None) -> Translate:
    """Return ``translate(message_id, **values)`` for one area and language.

    A message without a translation falls back to its English id, so a missing entry shows
    English text rather than failing.
    """
    messages = _messages(domain, resolve_language(language))

    def translate(message_id: str, **values: object) -> str:
        text = messages.get(message_id, message_id)
        return text.format(**values) if values else text

    return translate
