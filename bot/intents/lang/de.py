"""German: function words, everyday words and negation (umlauts folded, as tokens are).

German puts "nicht"/"kein" after the verb ("mein Passwort geht nicht"), so
they are post-cues: a symptom verb before them flags nothing.
"""

from __future__ import annotations

from bot.intents.negation import NegationRules
from bot.intents.text import BOUNDARY, words

STOPWORDS = words(
    """
    aber alle allem allen aller alles als also am an auch auf aus bei bin bis bist da dann das
    dass dem den der des dich die dir doch du ein eine einem einen einer eines er es euch euer
    fur hab habe haben hat hatte hier ich ihm ihn ihr ihre im in ist ja jetzt kann kannst
    konnen konnte mal man mein meine meinem meinen meiner mich mir mit nach noch nur oder ohne
    schon sehr sein seine sich sie sind so um und uns unser vom von vor war was weil wenn wer
    wie wieder wir wird wo zu zum zur bitte danke hallo hi moin servus ok okay gerade heute
    gestern morgen dringend schnell eben gern gerne einfach irgendwie etwas nochmal mehr sollte
    soll muss mussen
    """
)

COMMON_WORDS = words(
    """
    abend arbeit arbeiten arzt auto bahn bank bild bildschirm brief buch buro chef chefin
    computer datei datum drucker ecke ende essen fahren fall familie farbe fenster frage frau
    freund frei geben gehen geld gesprach gestern gross gruppe gut haus heissen helfen herr
    hilfe hoch holen horen idee jahr kaffee kalte kalt kind klein kollege kollegin kommen konto
    kopf kunde kunden lang laptop leben lesen leute liste machen mann meinung minute minuten
    monat montag dienstag mittwoch donnerstag freitag samstag sonntag nachricht name neu neue
    neuen neues nummer oben ordner ort papier person platz problem projekt raum rechner sache
    sagen schreiben sehen seite sitzung stadt stelle stock stunde stunden suchen tag tage team
    telefon termin tisch tur uhr unten urlaub vater viel wagen warten wasser weg woche wochen
    wort zeit zimmer zug januar februar marz april mai juni juli august september oktober
    november dezember gehalt heizung tastatur maus besprechung besprechungsraum wetter
    """
)

OPENERS = words("wann wie was welche welcher welches wo warum wer kann kannst konnen gibt ist muss")
SKIP_AT_START = words("hallo hi moin servus guten tag morgen kurze frage")

REQUEST_WORDS = words(
    """
    brauche braucht brauchte brauchen mochte mochten hatte will haben bekommen geben beantrage
    beantragen benotige benotigen kriegen nutzen zugang zugriff
    """
)

NEGATION = NegationRules(
    cues=frozenset(),
    fillers=words("ich du er sie wir ihr es mich mir dich dir sich mehr leider wirklich noch gar"),
    ability=words("kann kannst konnen konnte"),
    desire=words("brauche braucht brauchen will mochte mochten wollte wurde suche frage"),
    determiners=words("ein eine einen einem der die das den dem mein meine meinen"),
    symptoms=words(
        """
        geht gehen ging funktioniert funktionieren funktionierte klappt klappen klappte
        komme kommt kommen kam bekomme bekommt bekommen erhalte erhalt kriege kriegt habe hab
        hat haben weiss kenne erinnere finde sehe sieht lasst akzeptiert nimmt anmelden
        einloggen rein reinkommen zugreifen ankommen an ahnung weiss angenommen akzeptiert
        erkannt angezeigt
        """
    ),
    backward=words("notig noetig erforderlich problem"),
    fine=words("ok okay gut richtig korrekt"),
    copula=words("ist geht funktioniert passt"),
    know=words("kenne weiss"),
    secret=words("passwort kennwort pw pin"),
    scope_end=frozenset({BOUNDARY}) | words("aber sondern nur weil denn und sonder obwohl"),
    forward_phrases=(("statt",), ("anstatt",), ("kein", "bedarf")),
    corrections=(
        ("vergiss", "es"),
        ("vergessen", "sie", "das"),
        ("ich", "meinte"),
        ("doch", "nicht"),
        ("egal",),
    ),
    answers=words("nein"),
    post_cues=words("nicht kein keine keinen keinem keiner keines nie niemals nichts"),
    no_words=words("kein keine keinen keinem keiner"),
    auxiliaries=words("habe hab hat haben hast bin ist sind war wurde"),
)
