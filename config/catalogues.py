"""The message catalogues' upkeep: extract the English texts, update each language's ``.po``.

``make messages`` runs this module: Babel's extractor reads every ``t()``, ``tn()``
and ``N_()`` in ``bot``, ``actions`` and ``config`` into ``config/locales/helpdesk.pot``,
and each ``config/locales/<lang>/LC_MESSAGES/helpdesk.po`` is updated from it (new
texts added untranslated, texts gone from the code marked obsolete). Translators fill
in the ``.po`` files; tests/i18n fails while a text, a placeholder or a plural form is
missing. Not imported at run time.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from config.i18n import DOMAIN, LANGUAGES, LOCALES_DIR, SOURCE

ROOT = LOCALES_DIR.parents[1]
#: The packages whose texts are extracted.
PACKAGES = ("bot", "actions", "config")
#: ``t(message, **values)``, ``tn(singular, plural, count, **values)``, ``N_(message)``.
KEYWORDS = {"t": None, "tn": (1, 2), "N_": None}
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def po_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Catalog:
    """Every text the code wraps, as a template (no locations: merges stay quiet)."""
    template = Catalog(project="helpdesk-bot", domain=DOMAIN, charset="utf-8", fuzzy=False)
    for package in PACKAGES:
        for _file, _line, message, _comments, context in extract_from_dir(
            ROOT / package, [("**.py", "python")], keywords=KEYWORDS
        ):
            braces = PLACEHOLDER.search(str(message))
            flags = ("python-brace-format",) if braces else ()
            template.add(message, None, flags=flags, context=context)
    return template


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a text fills."""
    return set(PLACEHOLDER.findall(text))


def update() -> dict[str, int]:
    """Write the template and update every language's catalogue; untranslated count by language."""
    template = extract()
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with TEMPLATE.open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True, width=100)
    missing: dict[str, int] = {}
    for language in LANGUAGES:
        if language == SOURCE:
            continue
        path = po_path(language)
        if path.is_file():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, domain=DOMAIN, project="helpdesk-bot")
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as handle:
            write_po(handle, catalog, sort_output=True, width=100, ignore_obsolete=True)
        missing[language] = sum(1 for m in catalog if m.id and not _translated(m))
    return missing


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and not message.fuzzy


def main() -> int:
    missing = update()
    count = sum(1 for m in extract() if m.id)
    print(f"{TEMPLATE.relative_to(ROOT)}: {count} messages")
    for language, untranslated in missing.items():
        print(f"{po_path(language).relative_to(ROOT)}: {untranslated} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
