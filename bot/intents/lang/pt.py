"""Portuguese (Brazil and Portugal): function words, everyday words and negation."""

from __future__ import annotations

from bot.intents.negation import NegationRules
from bot.intents.text import BOUNDARY, words

STOPWORDS = words(
    """
    a ao aos as com como da das de do dos e ela elas ele eles em essa esse isso esta este isto
    eu foi ha isso ja la lhe mais mas me meu meus minha minhas muito na nas nem no nos o os ou
    para pela pelo pra pro por porque que quem se sem seu sua seus suas so tambem te teu tua um
    uma voce voces vc vcs estou esta estao ser sou e era obrigado obrigada valeu oi ola pfv pf
    favor por ok okay hoje ontem amanha agora urgente rapido aqui ai tipo entao to ta
    """
)

COMMON_WORDS = words(
    """
    abrir agua ajuda ajudar almoco ano anos aplicativo app arquivo bom boa cabeca cafe caixa
    cama carro casa caso chefe cidade cliente coisa colega comecar comer comprar conta correr
    cracha dar dia dias dinheiro documento empresa entender enviar equipe escola
    escrever escritorio espaco esperar estado falar fazer feira ferias fim fila filho filha
    foto frio gente grande grupo hora horas ideia impressora internet ir janela jogo lado
    levar ligar lista livro lugar manha mao mes mesa mensagem minuto minutos momento mundo nome
    noite novo nova numero olhar pagar pagina pai mae papel parte passar pedir pensar pessoa
    porta pouco precisar problema projeto pronto quarto querer reuniao sala semana semanas
    sempre senhor senhora sistema tarde tela tempo ter trabalho trazer usar vez vezes ver vida
    voltar segunda terca quarta quinta sexta sabado domingo janeiro fevereiro marco abril maio
    junho julho agosto setembro outubro novembro dezembro holerite salario toner andar chave
    coloca colocar coloque bota botar
    """
)

OPENERS = words("quando como qual quais quanto quantos quantas onde porque quem posso pode tem e")
SKIP_AT_START = words("oi ola bom boa dia tarde noite e ai pergunta rapida")

REQUEST_WORDS = words(
    """
    preciso precisa precisava precisaria quero queria gostaria ter conseguir dar da peco solicito
    usar adicionar acesso
    """
)

NEGATION = NegationRules(
    cues=words("nao nunca nem jamais"),
    fillers=words("me te se lhe o a os as mais ainda mesmo realmente ja"),
    ability=words("consigo consegue conseguimos posso pode podemos"),
    desire=words("preciso precisa precisamos quero queria quer peco pedindo"),
    determiners=words("um uma o a os as meu minha meus minhas nenhum nenhuma outra outro"),
    symptoms=words(
        """
        funciona funcionam funcionou vai anda chega chegam chegou recebo recebe recebi lembro
        lembra sei sabe tenho tem tinha consigo entra entrar acessar acesso aparece aparecem
        carrega abre conecta vejo ve encontro aceita reconhece mostra envia deixa passa faco
        ideia
        """
    ),
    backward=words("necessario necessaria problema precisa"),
    fine=words("certa certo ok boa bem"),
    copula=words("esta e funciona ta"),
    know=words("sei conheco lembro"),
    secret=words("senha password pin"),
    scope_end=frozenset({BOUNDARY}) | words("mas so somente porque e que embora apenas"),
    forward_phrases=(
        ("nao", "precisa", "de"),
        ("em", "vez", "de"),
        ("ao", "inves", "de"),
    ),
    corrections=(
        ("esquece",),
        ("esqueca",),
        ("quis", "dizer"),
        ("quer", "dizer"),
        ("na", "verdade", "nao"),
    ),
    answers=words("nao"),
    no_words=words("nenhum nenhuma"),
    auxiliaries=words("tenho tem temos"),
)
