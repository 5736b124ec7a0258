"""Lesson text for pages: Markdown to HTML in the learner's language, and the language itself.

Lesson files are part of the code base (reviewed like code), so their Markdown is trusted and
rendered as is.
"""

from __future__ import annotations

import functools

import markdown as markdown_lib
from django.conf import settings
from django.utils import translation

LANGUAGES = ("ja", "en")


@functools.lru_cache(maxsize=2048)
def markdown(text: str) -> str:
    return markdown_lib.markdown(text, extensions=["fenced_code", "tables"], output_format="html")


def language_for(request, workshop=None) -> str:
    """The language the learner chose with the page's language buttons, else the workshop's, else the browser's."""
    active = translation.get_language()
    if request is not None and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) in LANGUAGES and active in LANGUAGES:
        return active
    if workshop is not None and workshop.language in LANGUAGES:
        return workshop.language
    return active if active in LANGUAGES else "en"


def pick(text: dict | None, language: str) -> str:
    """One language of a {"ja": ..., "en": ...} dict (check details, descriptions)."""
    if not text:
        return ""
    return text.get(language) or text.get("en") or ""
