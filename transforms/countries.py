"""Countries by ISO 3166-1 alpha-2 code: their alpha-3 code and names, for ``user.country``.

One line per country: ``alpha-2 alpha-3 name name ...``, names in :func:`transforms.location.
normalise_place` form (lower-case ASCII letters and digits only). Generated once from Debian's
``iso-codes`` (ISO 3166-1 names, common and official) and ``phonenumbers``' geocoding names in
English, Spanish, Portuguese and French (Masivo's markets), dropping any name two countries
share; reading ``phonenumbers``' own copy at run time would load its whole geocoding data
(about 100 MB per process). :data:`COUNTRY_ALIASES` adds common abbreviations.
"""

from __future__ import annotations

from typing import Final

__all__ = ["COUNTRY_ALIASES", "COUNTRY_CODES"]

_TABLE: Final = """
ad and andorra principalityofandorra andorre
ae are unitedarabemirates emiratosarabesunidos emiradosarabesunidos emiratsarabesunis
af afg afghanistan islamicrepublicofafghanistan afganistan afeganistao
ag atg antiguaandbarbuda antiguaybarbuda antiguaebarbuda antiguaetbarbuda
ai aia anguilla anguila
al alb albania republicofalbania albanie
am arm armenia republicofarmenia armenie
ao ago angola republicofangola
aq ata antarctica antartida antarctique
ar arg argentina argentinerepublic argentine
as asm americansamoa samoaamericana samoaamericaines
at aut austria republicofaustria autriche
au aus australia australie
aw abw aruba
ax ala alandislands islasaland ilhasaland ilesaland
az aze azerbaijan republicofazerbaijan azerbaiyan azerbaijao azerbaidjan
ba bih bosniaandherzegovina republicofbosniaandherzegovina bosniayhercegovina bosniaherzegovina bosnieherzegovine
bb brb barbados barbade
bd bgd bangladesh peoplesrepublicofbangladesh
be bel belgium kingdomofbelgium belgica belgique
bf bfa burkinafaso burquinafaso
bg bgr bulgaria republicofbulgaria bulgarie
bh bhr bahrain kingdomofbahrain bahrein
bi bdi burundi republicofburundi
bj ben benin republicofbenin
bl blm saintbarthelemy sanbartolome saobartolomeu
bm bmu bermuda bermudas bermudes
bn brn bruneidarussalam brunei
bo bol boliviaplurinationalstateof bolivia plurinationalstateofbolivia bolivie
bq bes bonairesinteustatiusandsaba bonairesaneustaquioysaba bonairesainteustacheetsaba
br bra brazil federativerepublicofbrazil brasil bresil
bs bhs bahamas commonwealthofthebahamas
bt btn bhutan kingdomofbhutan butan butao bhoutan
bv bvt bouvetisland islabouvet ilhabouvet ilebouvet
bw bwa botswana republicofbotswana botsuana
by blr belarus republicofbelarus bielorrusia bielorussie
bz blz belize belice
ca can canada
cc cck cocoskeelingislands cocosislands islascocos ilhascoco ilescocos
cd cod congothedemocraticrepublicofthe thedemocraticrepublicofcongo republicademocraticadelcongo congokinshasa republiquedemocratiqueducongo
cf caf centralafricanrepublic republicacentroafricana republiquecentreafricaine
cg cog congo republicofthecongo congobrazzaville
ch che switzerland swissconfederation suiza suica suisse
ci civ cotedivoire republicofcotedivoire costademarfil costadomarfim
ck cok cookislands islascook ilhascook ilescook
cl chl chile republicofchile chili
cm cmr cameroon republicofcameroon camerun republicadoscamaroes cameroun
cn chn china peoplesrepublicofchina chine
co col colombia republicofcolombia colombie
cr cri costarica republicofcostarica
cu cub cuba republicofcuba
cv cpv caboverde republicofcaboverde capeverde capvert
cw cuw curacao
cx cxr christmasisland islachristmas ilhasnatal ilechristmas
cy cyp cyprus republicofcyprus chipre chypre
cz cze czechia czechrepublic chequia republicatcheca republiquetcheque
de deu germany federalrepublicofgermany alemania alemanha allemagne
dj dji djibouti republicofdjibouti yibuti djibuti
dk dnk denmark kingdomofdenmark dinamarca danemark
dm dma dominica commonwealthofdominica dominique
do dom dominicanrepublic republicadominicana republiquedominicaine
dz dza algeria peoplesdemocraticrepublicofalgeria argelia algerie
ec ecu ecuador republicofecuador equador equateur
ee est estonia republicofestonia estonie
eg egy egypt arabrepublicofegypt egipto egito egypte
eh esh westernsahara saharaoccidental saaraocidental
er eri eritrea thestateoferitrea eritreia erythree
es esp spain kingdomofspain espana espanha espagne
et eth ethiopia federaldemocraticrepublicofethiopia etiopia ethiopie
fi fin finland republicoffinland finlandia finlande
fj fji fiji republicoffiji fiyi fidji
fk flk falklandislandsmalvinas falklandislands islasmalvinas ilhasmalvinas ilesmalouines
fm fsm micronesiafederatedstatesof federatedstatesofmicronesia micronesia micronesie
fo fro faroeislands islasferoe ilhasfaroe ilesferoe
fr fra france frenchrepublic francia franca
ga gab gabon gaboneserepublic gabao
gb gbr unitedkingdom unitedkingdomofgreatbritainandnorthernireland reinounido royaumeuni
gd grd grenada granada grenade
ge geo georgia georgie
gf guf frenchguiana guayanafrancesa guianafrancesa guyanefrancaise
gg ggy guernsey guernesey
gh gha ghana republicofghana gana
gi gib gibraltar
gl grl greenland groenlandia groenland
gm gmb gambia republicofthegambia gambie
gn gin guinea republicofguinea guine guinee
gp glp guadeloupe guadalupe
gq gnq equatorialguinea republicofequatorialguinea guineaecuatorial guineequatorial guineeequatoriale
gr grc greece hellenicrepublic grecia grece
gs sgs southgeorgiaandthesouthsandwichislands islasgeorgiadelsurysandwichdelsur georgiadosuleilhassandwichdosul georgiedusudetilessandwichdusud
gt gtm guatemala republicofguatemala
gu gum guam
gw gnb guineabissau republicofguineabissau guinebissau guineebissau
gy guy guyana republicofguyana guiana
hk hkg hongkong hongkongspecialadministrativeregionofchina hongkongregiaoadminespecialdachina
hm hmd heardislandandmcdonaldislands islasheardymcdonald ilhaheardeilhasmcdonald ileheardetilesmcdonald
hn hnd honduras republicofhonduras
hr hrv croatia republicofcroatia croacia croatie
ht hti haiti republicofhaiti
hu hun hungary hungria hongrie
id idn indonesia republicofindonesia indonesie
ie irl ireland irlanda irlande
il isr israel stateofisrael
im imn isleofman islademan ilhademan iledeman
in ind india republicofindia inde
io iot britishindianoceanterritory territoriobritanicodeloceanoindico territoriobritanicodooceanoindico territoiresbritanniquesdeloceanindien
iq irq iraq republicofiraq iraque irak
ir irn iranislamicrepublicof iran islamicrepublicofiran ira
is isl iceland republicoficeland islandia islande
it ita italy italianrepublic italia italie
je jey jersey
jm jam jamaica jamaique
jo jor jordan hashemitekingdomofjordan jordania jordanie
jp jpn japan japon japao
ke ken kenya republicofkenya kenia quenia
kg kgz kyrgyzstan kyrgyzrepublic kirguizistan quirguistao
kh khm cambodia kingdomofcambodia camboya camboja cambodge
ki kir kiribati republicofkiribati quiribati
km com comoros unionofthecomoros comores
kn kna saintkittsandnevis sancristobalynieves saocristovaoenevis saintchristopheetnieves
kp prk koreademocraticpeoplesrepublicof northkorea democraticpeoplesrepublicofkorea coreadelnorte coreiadonorte coreedunord
kr kor korearepublicof southkorea coreadelsur coreiadosul coreedusud
kw kwt kuwait stateofkuwait koweit
ky cym caymanislands islascaiman ilhascaiman ilescaimans
kz kaz kazakhstan republicofkazakhstan kazajstan casaquistao
la lao laopeoplesdemocraticrepublic laos republicapopulardemocraticadolaos
lb lbn lebanon lebaneserepublic libano liban
lc lca saintlucia santalucia saintelucie
li lie liechtenstein principalityofliechtenstein
lk lka srilanka democraticsocialistrepublicofsrilanka
lr lbr liberia republicofliberia
ls lso lesotho kingdomoflesotho lesoto
lt ltu lithuania republicoflithuania lituania lithuanie
lu lux luxembourg grandduchyofluxembourg luxemburgo
lv lva latvia republicoflatvia letonia lettonie
ly lby libya libia libye
ma mar morocco kingdomofmorocco marruecos marrocos maroc
mc mco monaco principalityofmonaco
md mda moldovarepublicof moldova republicofmoldova moldavia moldavie
me mne montenegro
mf maf saintmartinfrenchpart saintmartin sanmartin saomartinho
mg mdg madagascar republicofmadagascar
mh mhl marshallislands republicofthemarshallislands islasmarshall ilhasmarshall ilesmarshall
mk mkd northmacedonia republicofnorthmacedonia macedonia macedoine
ml mli mali republicofmali
mm mmr myanmar republicofmyanmar mianmarbirmania
mn mng mongolia mongolie
mo mac macao macaospecialadministrativeregionofchina macauregiaoadminespecialdachina
mp mnp northernmarianaislands commonwealthofthenorthernmarianaislands islasmarianasdelnorte ilhasmarianasdonorte ilesmariannesdunord
mq mtq martinique martinica
mr mrt mauritania islamicrepublicofmauritania mauritanie
ms msr montserrat
mt mlt malta republicofmalta malte
mu mus mauritius republicofmauritius mauricio maurice
mv mdv maldives republicofmaldives maldivas
mw mwi malawi republicofmalawi malaui
mx mex mexico unitedmexicanstates mexique
my mys malaysia malasia malaisie
mz moz mozambique republicofmozambique mocambique
na nam namibia republicofnamibia namibie
nc ncl newcaledonia nuevacaledonia novacaledonia nouvellecaledonie
ne ner niger republicoftheniger
nf nfk norfolkisland islanorfolk ilhanorfolk ilenorfolk
ng nga nigeria federalrepublicofnigeria
ni nic nicaragua republicofnicaragua
nl nld netherlands kingdomofthenetherlands holanda paysbas
no nor norway kingdomofnorway noruega norvege
np npl nepal federaldemocraticrepublicofnepal
nr nru nauru republicofnauru
nu niu niue
nz nzl newzealand nuevazelanda novazelandia nouvellezelande
om omn oman sultanateofoman oma
pa pan panama republicofpanama
pe per peru republicofperu perou
pf pyf frenchpolynesia polinesiafrancesa polynesiefrancaise
pg png papuanewguinea independentstateofpapuanewguinea papuanovaguine papouasienouvelleguinee
ph phl philippines republicofthephilippines filipinas
pk pak pakistan islamicrepublicofpakistan paquistan paquistao
pl pol poland republicofpoland polonia pologne
pm spm saintpierreandmiquelon sanpedroymiquelon saintpierreemiquelon saintpierreetmiquelon
pn pcn pitcairn islaspitcairn
pr pri puertorico portorico
ps pse palestinestateof thestateofpalestine palestine palestina territoriospalestinos
pt prt portugal portugueserepublic
pw plw palau republicofpalau palaos belau
py pry paraguay republicofparaguay paraguai
qa qat qatar stateofqatar catar
re reu reunion reuniao lareunion
ro rou romania rumania romenia roumanie
rs srb serbia republicofserbia servia serbie
ru rus russianfederation russia rusia russie
rw rwa rwanda rwandeserepublic ruanda
sa sau saudiarabia kingdomofsaudiarabia arabiasaudita arabiesaoudite
sb slb solomonislands islassalomon ilhassalomao ilessalomon
sc syc seychelles republicofseychelles
sd sdn sudan republicofthesudan sudao soudan
se swe sweden kingdomofsweden suecia suede
sg sgp singapore republicofsingapore singapur cingapura singapour
sh shn sainthelenaascensionandtristandacunha sainthelena santahelena saintehelene
si svn slovenia republicofslovenia eslovenia slovenie
sj sjm svalbardandjanmayen svalbardyjanmayen svalbardejanmayen svalbardetjanmayen
sk svk slovakia slovakrepublic eslovaquia slovaquie
sl sle sierraleone republicofsierraleone sierraleona serraleoa
sm smr sanmarino republicofsanmarino saintmarin
sn sen senegal republicofsenegal
so som somalia federalrepublicofsomalia somalie
sr sur suriname republicofsuriname surinam
ss ssd southsudan republicofsouthsudan sudandelsur sudsoudan
st stp saotomeandprincipe democraticrepublicofsaotomeandprincipe santotomeyprincipe saotomeeprincipe saotomeetprincipe
sv slv elsalvador republicofelsalvador
sx sxm sintmaartendutchpart sanmartinregionholandesa saintmartinpartieneerlandaise
sy syr syrianarabrepublic syria siria syrie
sz swz eswatini kingdomofeswatini swaziland suazilandia
tc tca turksandcaicosislands islasturcasycaicos ilhasturksecaicos ilesturksetcaicos
td tcd chad republicofchad chade tchad
tf atf frenchsouthernterritories territoriosfrancesesdelsur territoriosfrancesesdosul territoiresfrancaisdusud
tg tgo togo togoleserepublic
th tha thailand kingdomofthailand tailandia thailande
tj tjk tajikistan republicoftajikistan tayikistan tadjiquistao tadjikistan
tk tkl tokelau
tl tls timorleste democraticrepublicoftimorleste timororiental
tm tkm turkmenistan turcomenistao
tn tun tunisia republicoftunisia tunez tunisie
to ton tonga kingdomoftonga
tr tur turkiye republicofturkiye turkey turquia turquie
tt tto trinidadandtobago republicoftrinidadandtobago trinidadytobago trinidadetobago triniteettobago
tv tuv tuvalu
tw twn taiwanprovinceofchina taiwan
tz tza tanzaniaunitedrepublicof tanzania unitedrepublicoftanzania tanzanie
ua ukr ukraine ucrania
ug uga uganda republicofuganda ouganda
um umi unitedstatesminoroutlyingislands islasmenoresalejadasdelosestadosunidos ilhasmenoresdistantesdosestadosunidos dependancesamericainesdupacifique
us usa unitedstates unitedstatesofamerica estadosunidos etatsunis
uy ury uruguay easternrepublicofuruguay uruguai
uz uzb uzbekistan republicofuzbekistan uzbequistao ouzbekistan
va vat holyseevaticancitystate vatican ciudaddelvaticano vaticano
vc vct saintvincentandthegrenadines sanvicenteylasgranadinas saovicenteegranadinas saintvincentetlesgrenadines
ve ven venezuelabolivarianrepublicof venezuela bolivarianrepublicofvenezuela
vg vgb virginislandsbritish britishvirginislands islasvirgenesbritanicas ilhasvirgensbritanicas ilesviergesbritanniques
vi vir virginislandsus virginislandsoftheunitedstates usvirginislands islasvirgenesamericanas ilhasvirgensdoseua ilesviergesamericaines
vn vnm vietnam socialistrepublicofvietnam vietna
vu vut vanuatu republicofvanuatu
wf wlf wallisandfutuna wallisyfutuna wallisefutuna wallisetfutuna
ws wsm samoa independentstateofsamoa
ye yem yemen republicofyemen iemen
yt myt mayotte
za zaf southafrica republicofsouthafrica sudafrica africadosul afriquedusud
zm zmb zambia republicofzambia zambie
zw zwe zimbabwe republicofzimbabwe zimbabue
"""

#: Abbreviations and names people write that ISO does not list.
COUNTRY_ALIASES: Final = {
    "eeuu": "us",
    "eua": "us",
    "uk": "gb",
    "greatbritain": "gb",
    "england": "gb",
    "estadosunidosmexicanos": "mx",
    "republicamexicana": "mx",
}


def _codes() -> dict[str, str]:
    codes: dict[str, str] = {}
    for line in _TABLE.split("\n"):
        words = line.split()
        if words:
            codes.update(dict.fromkeys(words, words[0]))
    codes.update(COUNTRY_ALIASES)
    return codes


#: alpha-2, alpha-3 or name (normalised) → lower-case alpha-2.
COUNTRY_CODES: Final = _codes()
