"""The message catalogues: every text the code says is translated, with the same placeholders.

The template is extracted from the code here (as ``make messages`` does), so a new or
changed ``t()`` text fails these tests until each catalogue has it.
"""

from __future__ import annotations

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from config.catalogues import TEMPLATE, extract, placeholders, po_path
from config.i18n import LANGUAGES, SOURCE

TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE]


def _key(message: Message) -> str:
    """A message's id as one string (a plural's singular and plural joined)."""
    return "\x00".join(_sources(message))


def _ids(catalog: Catalog) -> set[str]:
    return {_key(m) for m in catalog if m.id}


def _catalog(language: str) -> Catalog:
    with po_path(language).open("rb") as handle:
        return read_po(handle, locale=language, domain="helpdesk")


@pytest.fixture(scope="module")
def template() -> Catalog:
    return extract()


def _texts(value: object) -> tuple[str, ...]:
    found = value if isinstance(value, tuple | list) else (value,)
    return tuple(str(v or "") for v in found)


def _forms(message: Message) -> tuple[str, ...]:
    return _texts(message.string)


def _sources(message: Message) -> tuple[str, ...]:
    return _texts(message.id)


def test_the_template_is_what_the_code_says(template: Catalog) -> None:
    """``make messages`` was run: the committed template holds exactly the code's texts."""
    with TEMPLATE.open("rb") as handle:
        committed = read_po(handle)
    assert _ids(committed) == _ids(template), "run `make messages`"
    assert len(_ids(template)) > 150


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(template: Catalog, language: str) -> None:
    catalog = _catalog(language)
    missing = []
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id)
        if found is None or found.fuzzy or not all(_forms(found)):
            missing.append(_key(message))
    assert missing == [], f"{language}: {len(missing)} untranslated, run `make messages`"


@pytest.mark.parametrize("language", TRANSLATED)
def test_placeholders_and_plural_forms_match(template: Catalog, language: str) -> None:
    catalog = _catalog(language)
    wrong: list[tuple[str, str]] = []
    for message in template:
        found = catalog.get(message.id) if message.id else None
        if found is None:
            continue
        wanted = set().union(*(placeholders(s) for s in _sources(message)))
        forms = _forms(found)
        if isinstance(message.id, tuple) and len(forms) != catalog.num_plurals:
            wrong.append((_key(message), f"{len(forms)} forms, not {catalog.num_plurals}"))
            continue
        got = set().union(*(placeholders(s) for s in forms))
        # A singular may say "one" where the English says "{count}"; nothing else may differ.
        if got != wanted or any(not placeholders(s) <= wanted for s in forms):
            wrong.append((_key(message), f"{sorted(got)} != {sorted(wanted)}"))
    assert wrong == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_catalogue_keeps_texts_the_code_no_longer_says(
    template: Catalog, language: str
) -> None:
    assert _ids(_catalog(language)) - _ids(template) == set()
