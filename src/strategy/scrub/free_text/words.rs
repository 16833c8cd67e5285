//! Word lists of the free-text detectors, lower-cased.

/// Capitalised words that are no name after "I am", "this is", "ich bin", "jsem", "jestem", "je suis" (a name
/// detection stops before them) and no street or city (an address loses them at its start or its end):
/// polite pronouns, greetings, weekdays and months, roles and customer words, nationalities, states and
/// adjectives that Title-Case writing capitalises, and the shop's own nouns. After a weak phrase a single word
/// must also be a known first name (`FIRST_NAMES`); two or three capitalised words not listed here are taken
/// for a name ("This is Apple Pay" is a known false positive).
#[rustfmt::skip]
pub(super) const NOT_NAMES: &[&str] = &[
    // pronouns, articles, particles (capitalised as polite forms or at a title's start)
    "you", "your", "yours", "i", "it", "its", "the", "a", "an", "not", "no", "yes", "ok", "okay", "so",
    "very", "really", "just", "also", "still", "here", "there", "back", "now", "sure", "from", "with", "and",
    "or", "but", "this", "that", "what", "who", "writing", "calling", "contacting", "looking", "trying",
    "having", "going", "waiting", "sie", "ihnen", "ihr", "ihre", "ihrem", "ihren", "ihrer", "du", "dir",
    "dich", "dein", "deine", "euch", "euer", "der", "die", "das", "ein", "eine", "einer", "kein", "keine",
    "nicht", "auch", "noch", "schon", "sehr", "hier", "da", "jetzt", "gerade", "leider", "heute", "morgen",
    "gestern", "bald", "wieder", "vám", "vás", "váš", "vaše", "vaši", "vaší", "vaším", "vašeho", "vašemu",
    "vy", "ty", "teď", "už", "ještě", "moc", "velmi", "taky", "také", "pana", "panu", "panem", "panią",
    "państwo", "państwa", "państwu", "wam", "was", "wasz", "wasza", "pani", "pan", "vous", "votre", "vos",
    "toi", "moi", "très", "bien", "déjà", "encore", "madame", "monsieur",
    // greetings, thanks, apologies
    "hi", "hello", "hey", "dear", "thanks", "thank", "please", "sorry", "welcome", "regards", "cheers",
    "hallo", "danke", "bitte", "entschuldigung", "grüße", "gruß", "ahoj", "děkuji", "díky", "prosím",
    "promiňte", "cześć", "dziękuję", "proszę", "przepraszam", "witam", "bonjour", "bonsoir", "salut",
    "merci", "pardon", "cordialement",
    // weekdays and months
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "montag", "dienstag",
    "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "wochenende", "january", "february", "march",
    "april", "may", "june", "july", "august", "september", "october", "november", "december", "januar",
    "februar", "märz", "mai", "juni", "juli", "oktober", "dezember", "pondělí", "úterý", "středa", "čtvrtek",
    "pátek", "sobota", "neděle", "poniedziałek", "wtorek", "środa", "czwartek", "piątek", "niedziela",
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    // roles, customers, staff
    "customer", "client", "member", "user", "owner", "manager", "admin", "administrator", "support", "team",
    "service", "sales", "staff", "employee", "student", "teacher", "doctor", "premium", "gold", "silver",
    "vip", "guest", "buyer", "seller", "new", "regular", "returning", "business", "company", "kunde",
    "kundin", "stammkunde", "stammkundin", "neukunde", "neukundin", "privatkunde", "geschäftskunde",
    "firmenkunde", "mitglied", "studentin", "rentner", "rentnerin", "schüler", "schülerin", "lehrer",
    "lehrerin", "arzt", "ärztin", "besitzer", "besitzerin", "inhaber", "inhaberin", "eigentümer",
    "eigentümerin", "mieter", "mieterin", "vermieter", "käufer", "käuferin", "verkäufer", "händler",
    "nutzer", "nutzerin", "benutzer", "abonnent", "abonnentin", "mitarbeiter", "mitarbeiterin", "vertreter",
    "vertreterin", "vegetarier", "vegetarierin", "veganer", "veganerin", "allergiker", "mutter", "vater",
    "anfänger", "profi", "fan", "ende", "anfang", "mitte", "zákazník", "zákaznice", "klient", "klientka",
    "člen", "členka", "studentka", "důchodce", "důchodkyně", "majitel", "majitelka", "klientem", "klientką",
    "członek", "członkiem", "studentem", "studentką", "emeryt", "emerytka", "emerytem", "emerytką",
    "właściciel", "właścicielem", "cliente", "membre", "étudiant", "étudiante", "retraité", "retraitée",
    "propriétaire", "abonné", "abonnée",
    // nationalities
    "english", "british", "american", "german", "czech", "polish", "french", "slovak", "ukrainian",
    "austrian", "swiss", "italian", "spanish", "deutscher", "deutsche", "österreicher", "österreicherin",
    "schweizer", "schweizerin", "tscheche", "tschechin", "pole", "polin", "franzose", "französin",
    "engländer", "engländerin", "amerikaner", "amerikanerin", "čech", "češka", "slovák", "slovenka", "polák",
    "polka", "němec", "němka", "ukrajinec", "ukrajinka", "rus", "ruska", "vietnamec", "američan", "angličan",
    "francouz", "francouzka", "pražák", "pražačka", "polakiem", "polką", "czechem", "czeszką", "niemcem",
    "niemką", "francuzem", "francuzką", "ukraińcem", "ukrainką", "anglikiem", "français", "française",
    "belge", "suisse", "allemand", "allemande", "anglais", "anglaise", "tchèque", "polonais", "polonaise",
    "canadien", "canadienne",
    // states and adjectives
    "happy", "glad", "sad", "angry", "upset", "disappointed", "interested", "grateful", "thankful", "afraid",
    "unable", "able", "available", "unavailable", "busy", "away", "abroad", "home", "ready", "done", "fine",
    "confused", "worried", "amazing", "great", "good", "bad", "urgent", "important", "old", "annoyed",
    "frustrated", "satisfied", "unhappy", "pleased", "excited", "sick", "ill", "right", "wrong", "correct",
    "aware", "unsure", "froh", "traurig", "zufrieden", "unzufrieden", "enttäuscht", "dankbar", "krank",
    "unterwegs", "erreichbar", "verfügbar", "neu", "rád", "ráda", "spokojený", "spokojená", "nespokojený",
    "nespokojená", "vděčný", "vděčná", "doma", "pryč", "nemocný", "nemocná", "zadowolony", "zadowolona",
    "wdzięczny", "wdzięczna", "rozczarowany", "rozczarowana", "chory", "chora", "content", "contente",
    "ravi", "ravie", "désolé", "désolée", "heureux", "heureuse", "déçu", "déçue", "malade", "sûr", "sûre",
    // the shop's nouns
    "order", "product", "package", "parcel", "delivery", "account", "invoice", "item", "question", "problem",
    "issue", "bestellung", "paket", "lieferung", "konto", "rechnung", "objednávka", "zásilka", "balík",
    "účet", "faktura", "zamówienie", "paczka", "przesyłka", "commande", "colis", "livraison", "compte",
    "facture",
];

/// German compounds of a street word that name no street ("Parkplatz 12", "Sitzplatz 14A", "Umweg 3").
#[rustfmt::skip]
pub(super) const NOT_STREETS: &[&str] = &[
    "parkplatz", "stellplatz", "sitzplatz", "stehplatz", "arbeitsplatz", "spielplatz", "campingplatz",
    "lagerplatz", "liegeplatz", "bahnsteig", "hochsteig", "abstellplatz", "ladeplatz", "umweg", "rückweg",
    "heimweg", "ausweg", "lieferweg", "versandweg", "zahlungsweg", "rechtsweg", "postweg",
];

/// Common given names and their everyday short forms (en, de, cs, pl, fr), lower-cased: after a phrase that may
/// introduce a noun as well as a name ("I am", "ich bin", "jsem", "jestem", "je suis", "this is"), a single
/// capitalised word counts as a name only when it is one of these ("Jsem Ondřej" but not "Jsem Učitelka").
#[rustfmt::skip]
pub(super) const FIRST_NAMES: &[&str] = &[
    // English
    "aaron", "adam", "aidan", "aisha", "alan", "albert", "alex", "alexander", "alice", "alfie", "amanda",
    "amelia", "amy", "andrew", "andy", "angela", "ann", "anna", "anne", "anthony", "ben", "benjamin", "beth",
    "bill", "bob", "brian", "charles", "charlie", "charlotte", "chloe", "chris", "christopher", "claire",
    "dan", "daniel", "dave", "david", "deborah", "ed", "edward", "ella", "ellie", "emily", "emma", "eric",
    "ethan", "george", "grace", "hannah", "harry", "helen", "henry", "ian", "isabella", "jack", "jacob",
    "jake", "james", "jane", "jason", "jeff", "jennifer", "jenny", "jessica", "jim", "joe", "john", "jon",
    "jonathan", "josh", "joshua", "julia", "karen", "kate", "katie", "kevin", "laura", "liam", "lily",
    "linda", "lisa", "lucy", "luke", "mark", "mary", "matt", "matthew", "megan", "michael", "mike",
    "mohammed", "muhammad", "nancy", "nick", "noah", "oliver", "olivia", "oscar", "paul", "peter", "priya",
    "rachel", "rebecca", "richard", "rob", "robert", "ryan", "sam", "samuel", "sarah", "sean", "simon",
    "sophie", "steve", "steven", "susan", "thomas", "tim", "tom", "tony", "victoria", "will", "william",
    "zoe", "zoë",
    // German
    "andreas", "anja", "barbara", "bernd", "birgit", "björn", "christian", "christina", "claudia", "dieter",
    "dirk", "elke", "emil", "felix", "finn", "frank", "franz", "fritz", "gabi", "gerhard", "hans", "heike",
    "heinz", "helga", "ingrid", "jan", "jana", "jens", "jörg", "jürgen", "julian", "karin", "katharina",
    "klaus", "lena", "leon", "lukas", "maria", "marie", "markus", "martin", "max", "maximilian", "mia",
    "monika", "niklas", "nina", "paula", "petra", "ralf", "sabine", "sandra", "sebastian", "sepp", "stefan",
    "susanne", "sven", "tobias", "uwe", "ursula", "uli", "wolfgang", "yvonne",
    // Czech
    "adéla", "aleš", "alena", "anežka", "barbora", "bára", "daniela", "david", "dominik", "eliška", "eva",
    "filip", "františek", "hana", "helena", "honza", "iveta", "ivana", "jakub", "jan", "jarda", "jaroslav",
    "jiří", "jirka", "josef", "kája", "karel", "karolína", "kateřina", "katka", "klára", "kristýna", "lenka",
    "libor", "lucie", "lukáš", "marek", "markéta", "martina", "michal", "michaela", "milan", "miroslav",
    "monika", "ondra", "ondřej", "pavel", "pavla", "pepa", "petr", "radek", "radka", "roman", "šárka",
    "simona", "stanislav", "štěpán", "tereza", "tomáš", "vašek", "václav", "věra", "veronika", "vojta",
    "vojtěch", "zdeněk", "zuzana",
    // Polish
    "adrian", "agata", "agnieszka", "aleksandra", "ania", "bartek", "bartosz", "beata", "dorota", "ewa",
    "ewelina", "grzegorz", "jacek", "janusz", "joanna", "józef", "julia", "kacper", "kasia", "katarzyna",
    "krzysztof", "krzyś", "kuba", "łucja", "łukasz", "maciej", "magda", "magdalena", "małgorzata", "marcin",
    "mariusz", "marta", "marzena", "mateusz", "michał", "monika", "natalia", "ola", "oliwia", "paweł",
    "piotr", "rafał", "robert", "tomasz", "tomek", "wojtek", "wojciech", "zofia", "zosia",
    // French
    "alain", "amélie", "anaïs", "antoine", "aurélie", "aurélien", "camille", "céline", "chloé", "claude",
    "élodie", "émilie", "françois", "gaëlle", "guillaume", "hélène", "hugo", "inès", "isabelle", "jacques",
    "jean", "julie", "julien", "léa", "louis", "louise", "lucas", "manon", "marc", "margaux", "mathieu",
    "nathalie", "nicolas", "noémie", "océane", "philippe", "pierre", "sophie", "théo", "thierry", "valérie",
    "vincent", "yves",
];
