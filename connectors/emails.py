"""Exact email matching: how a chat profile's address is compared with a directory's.

An address matches only itself: Unicode NFC-normalised (so a precomposed and a
decomposed ``é`` are one address) and case-insensitive for ASCII letters only.
``str.casefold``/``str.lower`` fold look-alikes onto ASCII (the Kelvin sign ``K``
to ``k``, the long s ``ſ`` to ``s``, ``İ`` to ``i̇``) and NFKC folds full-width
letters, so neither is used here: ``edsger.dij\\u212astra@example.com`` is not
``edsger.dijkstra@example.com``. Plus-addressing, a trailing dot or any other
spelling is another address as well.
"""

from __future__ import annotations

import unicodedata

_ASCII_UPPER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _singleton(ch: str) -> bool:
    """A character NFC replaces by another single one (the Kelvin sign by ``K``, the ohm
    sign by omega, the Greek question mark by ``;``): only ever a look-alike."""
    decomposition = unicodedata.decomposition(ch)
    return bool(decomposition) and not decomposition.startswith("<") and (
        len(decomposition.split()) == 1
    )


def email_key(address: str) -> str | None:
    """The comparison form of ``address``: stripped, NFC, ASCII letters lower-cased only.

    ``None`` (matches nothing) for an address holding a character NFC would turn into
    a different single character: normalising it would make a look-alike match.
    """
    stripped = address.strip()
    if not stripped.isascii() and any(_singleton(ch) for ch in stripped):
        return None
    return unicodedata.normalize("NFC", stripped).translate(_ASCII_UPPER)


def same_email(a: str, b: str) -> bool:
    """Whether two addresses are the same mailbox for the helpdesk (see the module doc)."""
    key = email_key(a)
    return key is not None and key == email_key(b)


def folds_to_ascii(address: str) -> bool:
    """Whether ``address`` has a non-ASCII character that case or compatibility folding
    turns into ASCII (the Kelvin sign, the long s, full-width letters): a look-alike of a
    plain address, never matched, reported. Accented letters (``é``) are not such."""
    return not address.isascii() and any(
        not ch.isascii() and _folded_ascii(ch) for ch in address
    )


def _folded_ascii(ch: str) -> bool:
    folded = unicodedata.normalize("NFKC", ch).casefold()
    return bool(folded) and folded.isascii()


#: Characters that look like ASCII letters but fold onto nothing ASCII (Cyrillic, Greek):
#: a small table of the usual homoglyphs, for reporting, not for matching.
HOMOGLYPHS: dict[str, str] = {
    "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c",
    "\u0443": "y", "\u0445": "x", "\u0456": "i", "\u0458": "j", "\u0455": "s",
    "\u03bf": "o", "\u03b1": "a", "\u0131": "i",
}


def lookalike(address: str) -> bool:
    """Whether ``address`` imitates a plain ASCII address (folding or a known homoglyph)."""
    return folds_to_ascii(address) or any(ch in HOMOGLYPHS for ch in address)


__all__ = ["HOMOGLYPHS", "email_key", "folds_to_ascii", "lookalike", "same_email"]
