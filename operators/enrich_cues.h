// Cue phrases of the intents (and of sarcasm), per language, as Hyperscan regular expressions over
// a post's normalised text: lowercase words and punctuation marks separated by single spaces, with
// a space before the first and after the last (" i waited 2 hours ! "). A space is therefore the
// word boundary; `\S*` continues a word. Tuned on tests/fixtures/enrichment/posts_tune.tsv only.
#pragma once

#include <cstdint>

namespace brandpulse::enrichment_cues {

enum Cue : uint8_t {
  kQuestion = 0,
  kComplaint,
  kPraise,
  kPurchase,
  kChurn,
  kSupport,
  kSarcasm,
  kCueCount,
};

struct CuePattern {
  Cue cue;
  const char* regex;
};

// Languages: 0 English, 1 Norwegian (bokmål and nynorsk), 2 Spanish.
inline constexpr CuePattern kEnglish[] = {
    {kQuestion, R"( (anyone|does|do|is|are|can|how|what|why|which|where|when|should) .*\?)"},
    {kComplaint, R"( (down|outage|outages|again|still|waited|waiting|hold|delayed|delay|lost|losing|wrong|refund|crash\S*|froze|freez\S*|throttl\S*|overcharg\S*|broken|buggy|rude|scam|useless|trash|garbage|worst|nightmare|joke|awful|terrible|horrible|unacceptable|ridiculous|greedy|soaked|bumped|stolen|cold|soggy|ads|nothing|unusable|nonexistent|robbery|mess|ruined|worse|confusing|boring|terrifying|scary|removed|drops|clockwork|outsourced|sticking|insulting|unwatchable|greedy|sucks|hacked|locked) )"},
    {kComplaint, R"( (never|didn't|didnt|doesn't|doesnt|won't|wont|can't|cant|isn't|not) (arrived|showed|show|came|work\S*|load\S*|connect|answer\S*|unlock|fix\S*|let|happy|impressed|worth|great|good|safe|responding) )"},
    {kComplaint, R"( (cancel\S*|charged|charging|charges|raised|raising|dropp\S*|keeps?|kept|sent|left|took|made me|logging|logged|pushed|changed|removed|killed|refused|hung|missed|miss|stuck|no) )"},
    {kComplaint, R"( (no|zero) (answer|response|update|updates|eta|food|water|bars|signal|wifi|internet|service|one|refund) )"},
    {kComplaint, R"( (price|prices) (hike|increase|again|are|went) | too expensive | one job | for nothing | my ass | wtf | smh | ugh | lol no )"},
    {kComplaint, R"( (\$\d+|(\d+|two|three|four|five|six) (hours|hrs|minutes|min|days|weeks|months|times)) )"},
    {kComplaint, R"( (of course|make it make sense|where is my|where's my|still no|still not) )"},
    {kPraise, R"( (thank\S*|thx|tysm|ty|shout ?out|props|kudos|love|loved|loving|amazing|awesome|great|best|impressed|impressive|incredible|fantastic|excellent|hero|legend|goat|perfect|smooth\S*|solid|seamless\S*|helpful|kind|friendly|patient|happy|fun|beautiful|nice|rock|fast|blazing|saved|grateful|5 stars|on point|spot on|never fails|never disappoints|never lets me down|no complaints) )"},
    {kPurchase, R"( (thinking of (getting|buying|switching)|looking to buy|want to (buy|order|pre-?order|get)|planning to|considering|might (finally )?(sign up|get)|going to (order|buy|get)|should i (get|buy)|worth (it|buying)|which \S+ plan|where can i buy|pre-?order|leaning towards|need to get|lease) )"},
    {kChurn, R"( (i'm done|im done|done with|switched from|switch from|moved from|moving from|traded|ditched|cancelling|canceling|cancelled my|canceled my|leaving|goodbye|porting|not renewing|looking at other|thinking of leaving|never looking back|switching to|switched to|switching from|moving to|going back to|back to) )"},
    {kSupport, R"( (help|dm|dm me|please dm|how do i|can someone|need to change|need help|who do i (talk|contact)|what can i do|recover|reset|unlock my|need to move) )"},
    {kSarcasm, R"(^ (great|oh (great|wonderful|perfect)|yeah sure|wonderful|sure) [,.]| thanks \S+ for (losing|nothing|ruining)| love paying | cool cool | just perfect | classic \.? $| 🙃 )"},
};

inline constexpr CuePattern kNorwegian[] = {
    {kQuestion, R"( (noen|nokon|hvordan|korleis|hva|kva|hvorfor|kvifor|når|hvor|kor|kan|er|har|går|gir|gjev|tar|flyr|flyg|leverer|veit|vet|bør) .*\?)"},
    {kComplaint, R"( (nede|nettbrudd|brudd|igjen|venter|ventet|venta|ventar|kø|forsinket|forsinka|forseinka|forsinkelse\S*|innstilt\S*|kansellert\S*|mistet|mista|feil|refusjon\S*|refundere|krasj\S*|fryser|strup\S*|frekk\S*|søppel|verste|elendig\S*|dårlig\S*|dårleg\S*|ubrukelig|ubrukeleg|håpløst|håplaust|uakseptabelt|grådig\S*|svindel|inkasso|gebyr\S*|iskald|kald|bløt|reklame|tom|vits|ingenting|skjulte|ugh|faen|verre|tregt|treg|supertregt|stopper|hacket|hacka|låst) )"},
    {kComplaint, R"( (ikke|ikkje|aldri) (svar|fornøyd|nøgd|imponert|greit|greitt|verdt|virker|verkar|fungerer|dukket|frem|fram|kom|kjem|får|å si|å seie) )"},
    {kComplaint, R"( (kom aldri|aldri frem|aldri fram|trakk meg|trekte meg|pengene tilbake|pengane attende|logger meg ut|loggar meg ut|økte|økt|auka|dyrt|svarer ikke|svarar ikkje|la på|i kulda|uten å si fra|utan å seie frå|for ingenting|én jobb|ein jobb|hvor er|sier hele tiden|seier heile tida|lol nei|my ass|hva faen|tok betalt|tar betalt|kutte\S*|kutta|fjernet|fjerna|spist|ete|sendte meg|sende meg|endret|utsatt|utsett|stått|stod|står|ikke greit|ikkje greitt) )"},
    {kComplaint, R"( (tok livet av|finnes ikke|finst ikkje|ute av kontroll|mens tavla|skulle være fikset|det var i går|for tredje|tredje dagen|fortsatt ikke|framleis ikkje|ikke har|ikkje har|gi meg en pause|nei takk) )"},
    {kComplaint, R"( ((\d+|to|tre|fire|fem|seks) (kr|timer|timar|minutter|minutt|min|dager|dagar|uker|veker|måneder|månader|ganger|gonger)) )"},
    {kPraise, R"( (takk|tusen takk|skryt|hyllest|elsker|elskar|fornøyd|nøgd|fantastisk\S*|kjempe\S*|knallbra|supert?|topp|konge|rå|gull|genialt|imponert|flink\S*|hyggelig\S*|hyggeleg\S*|blid|snill|hjelpsom|hjelpsam|superhjelpsom|superhjelpsam|anbefales|takknemlig|perfekt|beste|digg|deilig|nydelig|nydeleg|reddet|redda|bra|godt|sømløst|stabilt?|lynraskt|fem stjerner|aldri hatt|kan ikke klage|kan ikkje klage|ikke dårlig|ikkje dårleg) )"},
    {kPurchase, R"( (tenker å (kjøpe|bytte)|tenkjer å (kjøpe|byte)|vurderer å (bytte|byte|kjøpe)|vurderer|skal kjøpe|skal bestille|vil (forhånds)?bestille|vil kjøpe|planlegger|verdt å|bør jeg|hvilket \S+|kva \S+abonnement|tenker å) )"},
    {kChurn, R"( (går over til|bytter til|byter til|byttet til|bytta til|byta til|bytter fra|byter frå|sier opp|seier opp|sa opp|forlater|ferdig med|går fra|går frå|ser på andre|vurderer å gå|aldri mer|porterer|flytter) )"},
    {kSupport, R"( (hjelp|hjelpe meg|hjelpe|dm|hvordan (bytter|får|oppdaterer|legger|endrer)|korleis (byter|får)|kan noen|kan nokon|trenger hjelp|treng hjelp|kontakte|får tilbake|attende) )"},
    {kSarcasm, R"(^ (flott|oi så flott|jada|kult) [,.]| takk \S+ for at (dere|de) (mistet|mista)| elsker å (stå|vente)| helt perfekt | klassisk \.? $| kult $| 🙃 | sikkert $)"},
};

inline constexpr CuePattern kSpanish[] = {
    {kQuestion, R"(\?|¿)"},
    {kComplaint, R"( (caíd\S*|cae|otra vez|espera|esperando|esperé|llevo|cancel\S*|retras\S*|perdi\S*|perder|mal|reembolso|devuelv\S*|cobr\S*|sube|subido|subida|subir|cuelga|colgó|congela|cierra|cortó|cortada\S*|limitó|reduce|avería|incidencia|roto|rota|empapad\S*|borde|maleducado|basura|porquería|asco|peor|fatal|desastre|pesadilla|robo|estafa|avaricia|vergonzoso|ridículos?|inaceptable|harto|harta|molesto|rabia|lento|lentísim\S*|fría|frío|blanda|anuncios|comisión|comisiones|abusivas|terrorífico|miedo|hueva|coño|uf|bloque\S*|equivocada|equivocado|matado|hackearon) )"},
    {kComplaint, R"( (nunca|no|ni) (llegó|llega|funciona|contestan|contesta|responde|sirve|me deja|me devuelven|se presentó|estoy content[oa]|es normal|tiene sentido|me convence|vale|está bien|encuentro|lo encuentro|carga|tenga) )"},
    {kComplaint, R"( (sin (internet|fibra|avisar|noticias|respuesta|señal|fecha)|para nada|por nada|un trabajo|dónde está|ni un|me cambió|me mandó|me dijeron|llegó mal|mal el pedido|se ha caído|jaja no|sigo esperando|cero) )"},
    {kComplaint, R"( (tercera vez|cuarta vez|quinta vez|no me dejó|sigue sin|me colgó|ya no|no tiene sentido) )"},
    {kComplaint, R"( ((\d+|dos|tres|cuatro|cinco) ?(€|horas|minutos|min|días|semanas|meses|veces)|€) )"},
    {kPraise, R"( (gracias|mil gracias|bravo|enhorabuena|aplauso|encant\S*|genial|increíble|impresionante|impresionad[oa]|maravilla|pasada|buenísim[oa]|crack|cracks|maj[oa]|majísimo|amable|chul[oa]s?|perfect[oa]|feliz|content[oa]|gozada|chollo|héroe|chido|qué padre|impecable|me salvó|lo mejor|de diez|agradecid[oa]|lo agradezco|me alegró|5 estrellas|muy bien|va genial|no me puedo quejar|nada mal|nunca me falla|da gusto) )"},
    {kPurchase, R"( (pensando en (comprar|cambiarme|pasar)|estoy pensando en comprar|quiero (comprar\S*|reservar|pedir)|voy a (pedir|comprar\S*)|me inclino|me conviene|merece la pena|vale la pena|me cojo|a lo mejor me hago|qué tarifa|necesito móvil) )"},
    {kChurn, R"( (me quedo con|prefiero|volví a|me cambio|me cambié|me paso|me pasé|me doy de baja|darme de baja|me voy de|estoy harto|estoy harta|dejo|dejé|adiós|mirando otras|pensando irme|me llevo (el número|la nómina)|cancelo) )"},
    {kSupport, R"( (ayuda|ayúdame|ayudar|me ayudan|me puede ayudar|cómo (cambio|actualizo|pido|añado|activo|la recupero)|necesito ayuda|mándame|dm|qué hago) )"},
    {kSarcasm, R"(^ (genial|oh qué maravilla|sí claro) [,.]| gracias \S+ por perder| me encanta pagar| genial genial | perfecto \. 🙃| clásico \.? $| 🙃 | genial \. $)"},
};

}  // namespace brandpulse::enrichment_cues
