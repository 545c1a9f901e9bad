"""Spanish: function words, everyday words and negation (accents folded, as tokens are)."""

from __future__ import annotations

from bot.intents.negation import NegationRules
from bot.intents.text import BOUNDARY, words

STOPWORDS = words(
    """
    a al algo alguien algun alguna alguno algunos ante antes aqui asi aun bien cada como con
    contra cual cuales de del desde donde dos el ella ellas ellos en entre era es esa ese eso
    esta estan estar este esto estoy fue ha han has hay he hola la las le les lo los me mi mis
    mas muy nada ni no nos nosotros o os otra otro para pero poco por porque pues que quien se
    ser si sin sobre solo son su sus tambien te tengo tiene tu tus un una uno unos usted ustedes
    vosotros y ya yo unas estos estas esos esas aquel mio mia tuyo nuestro nuestra cual
    favor porfa porfi gracias oye mira vale ok okay bueno pues hoy ayer manana
    ahora otra vez veces urgente rapido estoy estas esta estamos sea soy eres somos sois
    """
)

COMMON_WORDS = words(
    """
    abrir acabar aceptar acordar agua ahi aire ano anos aplicacion aqui archivo ayer ayuda
    ayudar bano bien blanco boton buscar cabeza cada cafe caja calle cama cambio camino
    campo cara carta casa caso cerrar ciudad clase cliente coche cocina coger comer comida como
    compania companero companera comprar correo cosa crear creo cuarto cuenta cuerpo dato datos
    deber decir dejar despues dia dias dinero direccion documento dolor equipo escribir
    escritorio espacio esperar estado examen explicar facil falta familia fecha fin forma foto
    frio fuera gente gracias grande grupo gustar hablar hacer hecho hermano hijo hija hora horas
    idea imagen impresora informe internet ir jefe jefa juego lado largo leer libro llamar
    llegar lleno llevar local lunes luz madre mano manana marcha martes mayo medio mejor menos
    mes mesa miercoles minuto minutos mismo momento mundo nombre noche nuevo nueva numero oficina
    ordenador padre pagina pagar pais palabra pantalla papel parte pasar pedir pensar pequeno
    perder persona planta poder poner problema proyecto pronto puerta punto querer rato razon
    red reunion sala salir semana semanas senor senora servidor siempre siguiente silla sistema
    sitio tarde tarea telefono tener tiempo tienda todo trabajo traer usuario valor venir ver
    verdad viaje viernes vida volver jueves sabado domingo enero febrero marzo abril junio julio
    agosto septiembre octubre noviembre diciembre luego primero segundo tercero mensaje correo
    lista pregunta respuesta cosa coche clave llave nomina vacaciones baja sueldo coloca colocar
    meter mete meteis
    """
)

OPENERS = words("cuando como que cual cuanto cuantos cuantas donde por quien puedo puedes hay es")
SKIP_AT_START = words("hola buenas buenos dias oye mira porfa vale una pregunta rapida")

REQUEST_WORDS = words(
    """
    necesito necesita necesitaria necesitaba quiero quisiera queria gustaria dame dar tener
    conseguir pido solicito falta usar anadir acceso
    """
)

NEGATION = NegationRules(
    cues=words("no nunca jamas tampoco ni"),
    fillers=words("me te se le les lo la nos ya realmente ni siquiera todavia aun mas"),
    ability=words("puedo puede puedes podemos consigo consigue logro"),
    desire=words(
        """
        necesito necesita necesitamos quiero quiere queria quisiera pido pedir solicito busco
        hace falta hablo trata
        """
    ),
    determiners=words("un una el la los las mi mis su sus ningun ninguna nada otra otro"),
    symptoms=words(
        """
        funciona funcionan funciono va anda sirve deja dejan llega llegan llego recibo recibe
        recibi acuerdo recuerdo se sabe tengo tiene tenia puedo entra entro entrar accedo acceder
        aparece aparecen sale salen carga abre conecta conecto veo ve encuentro acepta acepto
        reconoce muestra envia manda pasa pasan idea localizo
        """
    ),
    backward=words("necesario necesaria problema hace falta importa"),
    fine=words("bien correcta correcto ok vale"),
    copula=words("esta es funciona va"),
    know=words("se conozco recuerdo"),
    secret=words("contrasena clave password pin"),
    scope_end=frozenset({BOUNDARY}) | words("pero sino solo solamente porque ya y que aunque"),
    forward_phrases=(
        ("no", "hace", "falta"),
        ("en", "lugar", "de"),
        ("en", "vez", "de"),
    ),
    corrections=(
        ("olvidalo",),
        ("quise", "decir"),
        ("mejor", "dicho"),
        ("perdon", "me", "equivoque"),
        ("da", "igual"),
    ),
    answers=words("no"),
    no_words=words("no ningun ninguna"),
    auxiliaries=words("he has ha hemos han habia"),
)
