"""The demo in the employee's language: `--lang`, or the language of what is typed."""

from __future__ import annotations

from tests.demo.test_demo import _run


def test_the_demo_answers_in_the_language_typed() -> None:
    proc = _run("se me olvidó la contraseña\n2\n", "demo")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "bot> Puedo restablecer tu contraseña de Okta (ada.lovelace@example.com)" in out
    assert "[1] Restablecer mi contraseña" in out and "[2] Cancelar" in out
    assert "Cancelado. No se ha cambiado nada." in out


def test_lang_sets_the_language_of_a_short_message_and_the_approvers_cards() -> None:
    # "figma" says nothing of a language: --lang de decides, for Ada and her approver Grace.
    proc = _run("figma\n1\n", "demo", "--lang", "de")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "bot> Zugriff auf *Figma (editor)* (Okta) anfragen?" in out
    assert "[to approver grace.hopper@example.com] bot> *Zugriffsanfrage*" in out
    assert "[1] Zugriff anfragen" in out


def test_an_unknown_language_is_refused() -> None:
    proc = _run("", "demo", "--lang", "xx")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
