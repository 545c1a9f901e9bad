"""Built-in word lists: function words and everyday English.

``STOPWORDS`` are words that carry no topic (they still take part in word
pairs). ``COMMON_WORDS`` are real English words that must never be "corrected"
into a domain term or a group name ("passport" is not a typo of "password",
"room" is not "zoom"). The lists are deliberately generic; domain vocabulary
lives in ``config/intents.yaml``.
"""

from __future__ import annotations

from bot.intents.text import words

STOPWORDS: frozenset[str] = words(
    """
    a an the i me my mine myself we us our ours you your yours he him his she her it its they
    them their this that these those there here is am are was were be been being do does did
    doing have has had having will would shall should can could may might must to of in on at by
    for from with about into onto over under as so and or if then than too very just also still
    again anymore already yet now today yesterday tomorrow please pls plz kindly thanks thank hi
    hey hello ok okay yes yeah yep no not what how when why who which where whats need want like
    wish would get got go going try trying keep kept let make some any all every each something
    anything everything someone anyone really actually basically literally maybe perhaps
    probably quite pretty bit lot asap urgent urgently quick quickly soon help one two #
    """
)

COMMON_WORDS: frozenset[str] = words(
    """
    about above across act action actually add added address admin after afternoon again against
    age ago agree ahead air alarm alert all allow almost alone along already also although
    always amazing among amount and angry animal announce annual another answer any anyone
    anything anyway anywhere app apple apply appointment april area arm around arrive art
    article ask assess assist attach attend august author auto available avoid away awesome baby
    back bad badge bag balance ball bank bar base basic basket bathroom battery beach bear beat
    beautiful because become bed been beer before begin behind believe bell below belt benefit
    best better between beyond bicycle big bike bill bin bird birthday bit black blame blank
    block blood blow blue board boat body bold book boom boot border boring boss both bottle
    bottom bought box boy brain brand bread break breakfast bridge brief bright bring broad
    brother brown budget bug build building bulb bus business busy but button buy cabinet cable
    cafe cake calendar call calm camera camp campaign can cancel candy cap capital car card care
    carpet carry case cash cast cat catch cause ceiling cell center central century certain
    chain chair chance change channel chapter charge charger chart chat cheap check cheese
    chicken child chip choice choose church cinema circle city claim class clean clear clerk
    click client climb clock close cloth cloud club coach coast coat cod coffee coin cold
    collect college colour color come comfort comment common company compare complain complete
    computer concept concert condition confirm connect consider contact contain content contest
    context continue contract control cook cookie cool cop copy core corner correct cost cotton
    couch could count country couple course court cousin cover cow crash crazy cream create
    credit crew crime cross crowd crown cry culture cup curtain customer cut cycle dad daily
    damage dance danger dark data date daughter day dead deal dear death debt decide deep degree
    delay delete deliver demand dentist deny department depend deposit describe desert design
    desk detail develop diary dictionary die diet different difficult digital dinner direct
    dirty discount discuss dish disk display distance divide doctor document dog dollar domain
    door dot double doubt down draft drag draw drawer dream dress drink drive drop drug dry duck
    due during dust duty each ear early earn earth easy eat edge editor effect effort egg eight
    either elect electric elevator else email empire empty end enemy energy engine enjoy enough
    enter entire entry envelope equal error escape estate even evening event ever every exact
    exam example excel excellent except excess exchange excuse exercise exit expense expensive
    expert explain extra eye face fact factory fail fair fall false family famous fan far farm
    fashion fast fat father fault favour fear feature february fee feed feel female fence
    festival few field fight figure file fill film final finance find fine finger finish fire
    firm first fish fit five fix flag flat flight floor flower fly focus folder folk follow food
    foot football force forest form forward four frame free fresh friday fridge friend front
    fruit full fun fund funny furniture future gain game garage garden gas gate general gift
    girl give glad glass global goal gold golf good grade grand grass great green grey ground
    grout grow guard guess guest guide guitar gym hair half hall hand handle hang happen happy
    hard hat hate head headset health hear heart heat heavy height hello help hero hide high
    hill hire history hit hold hole holiday home honey hope horse hospital host hot hotel hour
    house however huge human hungry hunt hurry hurt husband ice idea image imagine important
    improve inch include income increase index indeed industry inform inside install instance
    instead insurance interest internet interview invoice iron island issue item jacket jam
    january job join joke journey juice july jump june junk just keep key keyboard kick kid kill
    kind king kitchen knee knife knock know lab label lack lady lake lamp land language laptop
    large last late later laugh launch law lawn lay lazy lead leaf league learn least leave
    lecture leg lemon lend length less lesson letter level library lick lie life lift light like
    limit line link lion lip list listen little live load loan local locker locket lodge logic
    long look loom loose lose loss lot lotion loud love low luck lunch machine mad magazine mail
    main major make male mall man manage manager many map march mark market marry mask master
    match material matter maybe meal mean measure meat media medical medicine meet meeting
    member memory menu mess message metal method middle might mile milk mind minute mirror miss
    mistake mix mobile mode model modern moment monday money monitor month mood moon more
    morning most mother motion motor mountain mouse mouth move movie much mug music must name
    nation nature near neck need nerve network never news newspaper next nice night nine node
    noise none noon normal north nose note notebook nothing notice novel number nurse object
    ocean october offer office often oil old once only open option orange order other outlook
    outside oven owner pack package page pain paint pair palace pan panel paper parcel parent
    park parking part party pass passage passenger passport past pastor path patient pattern
    pause pay payment payroll payslip peace pen pencil people pepper per perfect period person
    pet phase phony photo piano pick picture piece pig pill pilot pin pink pipe pizza place plan
    plane plant plate play pleasant pocket poem point police policy polite pool poor popular
    port position possible post posted potato potion pound power practice prepare present preset
    press pretty price prince print printer prison private prize problem produce product profile
    program project promise prone proper protect proud provide public pull pump purple purpose
    push put quality quarter queen question quick quiet quite race radio rain raise range rate
    rather reach read ready real reason receipt receive recent record recipe red refund region
    regular relax remote rent repair repeat reply report request resent rest restaurant result
    return rice rich ride right ring rise risk river road rock roof room root rope rose round
    route router row rule run rush sad safe salary sale salt same sand saturday save say scale
    scan scanner scene schedule school science score screen sea search season seat second secret
    secretary section see seem sell send sense sentence september series serve service session
    set settle seven shade shake shape share sharp sheet shelf shell shift shine ship shirt shoe
    shone shop short shot should shoulder shout show shower shut sick side sigma sign signal
    silver simple sing single sister sit site size skill skin skirt sky sleep slide slip slow
    small smart smell smile smoke snack snake snow soap social sock sofa soft software soil
    soldier solid solve son song sorry sort sound soup south space speak special speech speed
    spell spend spirit sport spot spring square staff stage stair stamp stand star start state
    station stay steal step stick stock stomach stone stop store storm story strange street
    stress strike strong student study stuff style subject success sugar suit summer sun sunday
    supply support sure surface surprise survey sweet swim switch system table tail take talk
    tall tank tape task taste tax taxi tea teach teacher team tear technology telephone
    television tell temperature ten tennis tent term terrible test text than theatre thick thin
    thing think third thought three throat through throw thursday ticket tie tiger till time
    timesheet tiny tip tired title toast today toe toilet tomato tomorrow tone tongue tonight
    tool tooth top topic total touch tour towel tower town toy track trade traffic train
    transfer trash travel tree trial trip trouble truck true trust truth tuesday turn twice type
    ugly umbrella uncle under understand unit university until upset use usual vacation valley
    value van vapid vegetable video view village visa visit voice vote wait wake walk wall
    wallet wallpaper war warm wash watch water wave way weak wear weather website wedding
    wednesday week weekend weight welcome west wet wheel while white whole wide wife wild win
    window wine winter wire wise wish woman wonder wood word work world worry write wrong yard
    year yellow young zone zoo
    """
)
