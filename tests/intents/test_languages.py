"""Spanish, French, German and Portuguese: detection, normalisation, negation, accuracy floors."""

from __future__ import annotations

import difflib
import re
import unicodedata

import pytest

from bot.intents.config import ExamplesConfig
from bot.intents.evaluation import Report, evaluate, load_labelled
from bot.intents.lang import LANGUAGES, from_locale, language
from bot.intents.negation import negated_mask
from bot.intents.router import IntentRouter
from bot.intents.text import tokenize
from bot.intents.types import GroupChoice, Intent
from tests.intents.conftest import HERE, LANGUAGE_SETS

OTHER = tuple(LANGUAGE_SETS)
MACRO_TARGET = 0.95
#: Held-out sets were written after all tuning and are only measured; the floor guards regressions.
HOLDOUT_FLOOR = 0.85
#: Two sentences this similar (after normalisation) count as the same sentence.
NEAR = 0.9


def _norm(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return " ".join(re.findall(r"[a-z0-9]+", folded))


@pytest.fixture(scope="module")
def reports(router: IntentRouter) -> dict[str, Report]:
    return {code: evaluate(router, load_labelled(path)) for code, path in LANGUAGE_SETS.items()}


@pytest.mark.parametrize("code", OTHER)
def test_evaluation_set_is_large_varied_and_well_formed(
    code: str, catalogue: tuple[GroupChoice, ...]
) -> None:
    items = load_labelled(LANGUAGE_SETS[code])
    assert len(items) >= 60
    assert {item.intent for item in items} == set(Intent)
    assert {item.lang for item in items} == {code}
    keys = {g.key for g in catalogue}
    groups = [i for i in items if i.intent is Intent.GROUP_ACCESS]
    assert len({i.group for i in groups}) >= 10, "group requests name many catalogue groups"
    assert any(i.group is None for i in groups), "and things the catalogue lacks"
    for item in items:
        assert item.group is None or item.group in keys, item
        assert item.group is None or item.intent is Intent.GROUP_ACCESS, item
    assert len({_norm(i.text) for i in items}) == len(items), "duplicate sentences"


@pytest.mark.parametrize("code", OTHER)
def test_evaluation_sentences_are_not_training_examples(
    code: str, examples: ExamplesConfig
) -> None:
    training = [_norm(x) for entry in examples.intents for x in entry.texts()]
    sentences = [i.text for i in load_labelled(LANGUAGE_SETS[code])]
    sentences += [i.text for i in load_labelled(HERE / f"holdout_{code}.jsonl")]
    close = [
        (text, near)
        for text in sentences
        for near in difflib.get_close_matches(_norm(text), training, n=1, cutoff=NEAR)
    ]
    assert close == []


@pytest.mark.parametrize("code", OTHER)
def test_macro_accuracy_per_language(code: str, reports: dict[str, Report]) -> None:
    report = reports[code]
    misses = [f"{m.item.text!r} -> {m.got.intent.value}" for m in report.misses]
    assert report.macro >= MACRO_TARGET, misses
    assert report.oos_recall >= 0.9
    assert report.group_accuracy >= 0.9
    assert report.language_accuracy >= 0.95


@pytest.mark.parametrize("code", OTHER)
def test_held_out_sets_stay_above_a_floor(code: str, router: IntentRouter) -> None:
    items = load_labelled(HERE / f"holdout_{code}.jsonl")
    assert len(items) >= 20 and {i.lang for i in items} == {code}
    assert evaluate(router, items).macro >= HOLDOUT_FLOOR


@pytest.mark.parametrize(
    ("text", "intent", "lang"),
    [
        ("se me olvidó la contraseña otra vez", Intent.PASSWORD_RESET, "es"),
        ("compte bloqué, aidez-moi", Intent.ACCOUNT_UNLOCK, "fr"),
        ("hab mein Handy verloren, MFA geht nicht", Intent.MFA_RESET, "de"),
        ("minha senha vai expirar quando?", Intent.PASSWORD_EXPIRY, "pt"),
    ],
)
def test_messages_from_the_issue(
    router: IntentRouter, text: str, intent: Intent, lang: str
) -> None:
    result = router.classify(text)
    assert (result.intent, result.language) == (intent, lang)
    assert not result.needs_clarification


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("contrasena olvidada", Intent.PASSWORD_RESET),
        ("mon compte est verrouille", Intent.ACCOUNT_UNLOCK),
        ("Passwort zurucksetzen", Intent.PASSWORD_RESET),
        ("Passwort zuruecksetzen", Intent.PASSWORD_RESET),
        ("esqueci minha senha, nao lembro", Intent.PASSWORD_RESET),
        ("mi cuenta esta bloqeada", Intent.ACCOUNT_UNLOCK),
    ],
)
def test_missing_accents_and_typos(router: IntentRouter, text: str, intent: Intent) -> None:
    assert router.classify(text).intent is intent


@pytest.mark.parametrize(
    ("text", "intent", "lang"),
    [
        ("se me olvido la contrasela", Intent.PASSWORD_RESET, "es"),
        ("on m'a verouillé le compte ce matin", Intent.ACCOUNT_UNLOCK, "fr"),
        ("mein konto ist gespert", Intent.ACCOUNT_UNLOCK, "de"),
        ("minha conta esta bloqeada", Intent.ACCOUNT_UNLOCK, "pt"),
    ],
)
def test_a_typo_in_the_key_word_still_tells_the_language(
    router: IntentRouter, text: str, intent: Intent, lang: str
) -> None:
    result = router.classify(text)
    assert (result.intent, result.language) == (intent, lang)


@pytest.mark.parametrize(
    ("text", "intent", "lang"),
    [
        ("mi account está locked", Intent.ACCOUNT_UNLOCK, "es"),
        ("meu MFA não funciona", Intent.MFA_RESET, "pt"),
        ("mon password ne marche plus", Intent.PASSWORD_RESET, "fr"),
        ("mein Account ist gesperrt", Intent.ACCOUNT_UNLOCK, "de"),
    ],
)
def test_english_words_inside_other_languages(
    router: IntentRouter, text: str, intent: Intent, lang: str
) -> None:
    result = router.classify(text)
    assert (result.intent, result.language) == (intent, lang)


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("es", "no necesito una nueva contraseña, estoy bloqueado", ["no", "necesito", "una"]),
        ("es", "mi contraseña no funciona", []),
        ("es", "no me acuerdo de mi contraseña", []),
        ("pt", "não preciso de senha nova", ["nao", "preciso", "de"]),
        ("pt", "não tenho acesso ao Jira", []),
        ("fr", "je ne veux pas de nouveau mot de passe", ["ne", "veux", "pas"]),
        ("fr", "je n'arrive pas à me connecter", []),
        ("fr", "ça marche pas", []),
        ("fr", "je veux pas de reset, juste débloquer", ["je", "veux", "pas"]),
        ("de", "Mein Passwort funktioniert seit heute nicht", []),
        ("de", "Ich habe keinen Zugang zu Jira", []),
        ("de", "Ich brauche kein neues Passwort, nur entsperren", ["ich", "brauche", "kein"]),
        ("de", "Mein Konto ist nicht gesperrt", ["mein", "konto", "ist"]),
        ("de", "ich weiß mein Passwort nicht mehr", []),
        ("de", "ich kenne mein Passwort, das Konto ist gesperrt", ["kenne", "mein", "passwort"]),
        ("fr", "je ne retrouve plus mon mot de passe", []),
        ("fr", "je connais mon mot de passe, mais le compte est bloqué", ["connais", "mon"]),
        ("en", "I'm not able to remember my login password", []),
        ("en", "I remember my password, the account is locked", ["remember", "my", "password"]),
    ],
)
def test_negation_per_language(code: str, text: str, expected: list[str]) -> None:
    tokens = tokenize(text)
    flags = negated_mask(tokens, language(code).negation)
    denied = [t for t, flag in zip(tokens, flags, strict=True) if flag]
    assert denied[: len(expected)] == expected
    assert bool(denied) == bool(expected)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("no necesito una contraseña nueva, solo estoy bloqueada", Intent.ACCOUNT_UNLOCK),
        ("je ne suis pas bloqué, j'ai oublié mon mot de passe", Intent.PASSWORD_RESET),
        ("Ich bin nicht gesperrt, ich habe mein Passwort vergessen", Intent.PASSWORD_RESET),
        ("não estou bloqueado, esqueci a senha", Intent.PASSWORD_RESET),
    ],
)
def test_router_follows_negation_in_other_languages(
    router: IntentRouter, text: str, intent: Intent
) -> None:
    assert router.classify(text).intent is intent


def test_french_elisions_are_split() -> None:
    assert tokenize("j'ai l'accès, qu'il m'aide")[:4] == ["je", "ai", "le", "acces"]


@pytest.mark.parametrize(
    ("locale", "code"),
    [("es-ES", "es"), ("pt_BR", "pt"), ("fr", "fr"), ("DE-at", "de"), ("it-IT", None), ("", None)],
)
def test_locale_to_language(locale: str, code: str | None) -> None:
    assert from_locale(locale) == code


def test_short_messages_take_the_locale_then_the_default(router: IntentRouter) -> None:
    assert router.classify("ok").language == router.default_language == "en"
    assert router.classify("ok", locale="pt-BR").language == "pt"
    assert router.classify("ok 👍", locale="fr-FR").language == "fr"
    # A word only one language has settles it, whatever the locale says.
    assert router.classify("gracias", locale="de-DE").language == "es"


def test_a_long_message_is_read_from_its_text_not_the_locale(router: IntentRouter) -> None:
    result = router.classify("mein Passwort ist abgelaufen, ich brauche ein neues", locale="es")
    assert result.language == "de"


def test_the_locale_breaks_a_near_tie(router: IntentRouter) -> None:
    # Spanish and Portuguese share these words; the employee's locale decides.
    spanish = router.classify("la impresora de la segunda planta no imprime", locale="es-ES")
    assert spanish.language == "es"
    assert router.classify("me das acceso a notion?", locale="es-MX").language == "es"
    # A message clearly in another language keeps it.
    assert router.classify("acesso ao jira por favor", locale="es-ES").language == "pt"
    assert router.classify("mi cuenta esta bloqueada", locale="pt-BR").language == "es"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("necesito escritorio remoto", "vpn-users"),
        ("ich brauche Fernzugang", "vpn-users"),
        ("preciso de acesso remoto", "vpn-users"),
        ("quiero usar el gestor de contraseñas del equipo", "1password-team"),
        ("ich brauche den Passwortmanager", "1password-team"),
        ("preciso do gerenciador de senhas", "1password-team"),
    ],
)
def test_catalogue_aliases_per_language(router: IntentRouter, text: str, key: str) -> None:
    result = router.classify(text)
    assert (result.intent, result.group) == (Intent.GROUP_ACCESS, key)


def test_an_alias_of_one_language_is_not_read_in_another(router: IntentRouter) -> None:
    assert router.match_groups("Fernzugang", locale="de")[0][0] == "vpn-users"
    assert router.match_groups("je voudrais fernzugang", locale="fr") == []


def test_every_language_has_its_own_words() -> None:
    for code in LANGUAGES:
        lang = language(code)
        assert lang.stopwords and lang.common and lang.negation.cues | lang.negation.post_cues
        listed = lang.stopwords | lang.common
        assert all(w == _norm(w) for w in listed if w.isalpha()), code
