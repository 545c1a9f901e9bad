"""French: function words, everyday words and negation (accents folded, elisions split)."""

from __future__ import annotations

from bot.intents.negation import NegationRules
from bot.intents.text import BOUNDARY, words

STOPWORDS = words(
    """
    a au aux avec ce ces cet cette ceci cela ca dans de des du elle elles en est et etre eu il
    ils je la le les leur leurs lui ma mais me mes moi mon ne ni nos notre nous on ou par pas
    pour qu que qui sa se ses si son sur ta te tes toi ton tu un une vos votre vous y ai as
    avons avez ont suis es sommes etes sont etait fait faire peu tres bien aussi encore deja
    plus tout tous toute toutes merci bonjour salut svp stp sil plait ok okay alors donc voila
    aujourdhui hier demain maintenant vite urgent quelque chose quelquun est-ce
    """
)

COMMON_WORDS = words(
    """
    acheter affaire aide aider aimer aller ami amie an annee appeler apprendre apres argent
    arriver attendre avant avoir besoin bientot bonne bon bouton bureau cafe carte cas chaise
    chambre changer chef chercher chose ciel client collegue commencer comprendre compte
    connaitre content courrier cours dire document donner dossier droite eau ecole ecran ecrire
    ensemble entendre entree envoyer equipe erreur escalier etage etat fenetre femme fermer
    fichier fille fils fin fois formation froid gauche gens grand groupe heure heures homme idee
    image imprimante jour jours journee juste lettre lieu lire livre long lundi mardi mercredi
    jeudi vendredi samedi dimanche main maison manager matin message mettre midi minute mois
    monde monsieur madame mot mots nom nouveau nouvelle nuit numero ordinateur ouvrir page papier
    parler partir passer payer penser personne petit piece porte poser possible poste pouvoir
    prendre prix probleme projet question raison rapport recevoir regarder rendre repondre
    reponse rester reunion rien route salle savoir semaine service seul soir sortir souvent
    suivre table temps tenir tete train travail travailler trouver vacances venir ville voir
    voiture vouloir vrai janvier fevrier mars avril mai juin juillet aout septembre octobre
    novembre decembre premier deuxieme troisieme conge conges paie clim cle salaire
    """
)

OPENERS = words("quand comment quel quelle quels quelles combien ou pourquoi qui est puis peux")
SKIP_AT_START = words("bonjour salut coucou hello bonsoir alors petite question svp stp")

REQUEST_WORDS = words(
    """
    besoin faut faudrait voudrais voudrait veux aimerais aimerait souhaite souhaiterais avoir
    obtenir donner demande demander ajouter utiliser acces
    """
)

NEGATION = NegationRules(
    cues=words("ne"),
    fillers=words(
        "pas plus jamais rien me te se le la les lui y en vraiment toujours encore du tout"
    ),
    ability=words("peux peut pouvons pouvez arrive arrivons parviens"),
    desire=words(
        """
        veux veut voulais voudrais souhaite souhaiterais demande demander cherche besoin parle
        agit
        """
    ),
    determiners=words("un une le la les de du des mon ma mes ton ta tes son sa ses aucun aucune"),
    symptoms=words(
        """
        marche marchent fonctionne fonctionnent arrive arrivent recois recoit recu vois voit
        trouve retrouve souviens rappelle sais connais peux accede acceder acces connecte connecter
        affiche apparait apparaissent charge ouvre accepte reconnait envoie passe veut idee
        """
    ),
    backward=words("necessaire probleme souci besoin"),
    fine=words("bon bien correct ok juste"),
    copula=words("est marche fonctionne"),
    know=words("connais sais"),
    secret=words("mdp password pin mot passe"),
    scope_end=frozenset({BOUNDARY}) | words("mais juste seulement car parce que puisque et sinon"),
    forward_phrases=(
        ("pas", "besoin", "de"),
        ("au", "lieu", "de"),
        ("plutot", "que"),
    ),
    corrections=(
        ("laisse", "tomber"),
        ("laissez", "tomber"),
        ("je", "voulais", "dire"),
        ("en", "fait", "non"),
        ("oubliez", "ca"),
        ("oublie", "ca"),
    ),
    answers=words("non"),
    post_cues=words("pas plus jamais rien aucun aucune"),
    no_words=words("aucun aucune pas"),
    auxiliaries=words("ai as a avons avez ont suis es sommes etes sont"),
)
