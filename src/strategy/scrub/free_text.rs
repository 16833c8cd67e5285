//! Personal data typed into free text that no declared column holds: street addresses, names introduced by a
//! phrase ("my name is …", "jmenuji se …") or closing a message ("Regards, Jana Nováková"), and dates of
//! birth next to a keyword ("DOB", "geboren", "né le"), in English, German, Czech, Polish and French; and the
//! allow-list (`keep`) that spares the business's own contact data from every detector.
//!
//! Everything here is regular expressions of the `regex` crate (linear in the text) plus checks on each match
//! bounded by the match's length or by the longest kept item: no input makes it quadratic.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

mod words;

#[cfg(test)]
mod corpus;
#[cfg(test)]
mod tests;

/// What a free-text detector found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Detector {
    /// A street and house number, with the postcode and city when they follow.
    Address,
    /// One to three capitalised words after an introducing phrase.
    Name,
    /// A date after (or, in German, Czech and Polish, before) a birth keyword.
    BirthDate,
}

impl Detector {
    /// The placeholder that replaces what this detector found (`[name]` and `[address]` as for identifiers).
    pub fn placeholder(self) -> &'static str {
        match self {
            Detector::Address => "[address]",
            Detector::Name => "[name]",
            Detector::BirthDate => "[birthdate]",
        }
    }
}

// --- building blocks of the expressions -----------------------------------------------------------------------

/// A capitalised word: `Baker`, `O'Brien`, `McDonald`, `Mary's`, `Saint-Germain`, `Dąbrowska-Nowak`, `Zoë`. Letters
/// are those of the Latin script up to Latin Extended-A (en, de, cs, pl, fr): whole Unicode classes made the
/// expressions, compiled in each new backend on its first scrub, take 2.5 times as long to build.
const W: &str = r"[A-ZÀ-ÖØ-ÞĀ-ž&&\p{Lu}](?:['’][A-ZÀ-ÖØ-ÞĀ-ž&&\p{Lu}])?[a-zß-öø-ÿĀ-ž&&\p{Ll}]+(?:[A-ZÀ-ÖØ-ÞĀ-ž&&\p{Lu}][a-zß-öø-ÿĀ-ž&&\p{Ll}]+)?(?:['’]s)?(?:-[A-ZÀ-ÖØ-ÞĀ-ž&&\p{Lu}]?[a-zß-öø-ÿĀ-ž&&\p{Ll}]+)*";
/// A house number: `27`, `5a`, `221B`, `10/5`, `730/14`, `12-14` (and never part of a longer number).
const NUM: &str = r"[0-9]{1,4}[a-zA-Z]?(?:[ \t]?/[ \t]?[0-9]{1,4}[a-zA-Z]?|-[0-9]{1,4}[a-zA-Z]?)?";
/// Continental postcodes: `120 00` (CZ), `10115` (DE, FR), `00-001` (PL), `1010` (AT, CH).
const PC: &str = r"[0-9]{3}[ \t]?[0-9]{2}|[0-9]{2}-[0-9]{3}|[0-9]{4}";
/// UK postcodes: `NW1 6XE`, `LS1 4DY`, `CF10 2BH`.
const UKPC: &str = r"[A-Z]{1,2}[0-9][A-Z0-9]?[ \t]?[0-9][A-Z]{2}";
/// A city of one or two words, `Frankfurt am Main`, `Ústí nad Labem`, with a district number (`Praha 2`).
const CITY: &str = r"<W>(?:[ \t]+(?:(?:am|an[ \t]der|nad|pod|sur|sous|en|im|la|le)[ \t]+)?<W>)?(?:[ \t]+[0-9]{1,2})?";
/// What may follow a street and number: postcode and city, city and UK postcode, or a city after a comma.
const TAIL: &str = r"(?:,?[ \t]+(?:<PC>|<UKPC>)[ \t]+<CITY>|,[ \t]*<CITY>(?:,?[ \t]+<UKPC>)?)?";
/// German adjectives before a separate street word: `Berliner Straße`, `Alte Gasse`, `Neuer Weg`.
const ADJ: &str = r"[A-ZÀ-ÖØ-ÞĀ-ž&&\p{Lu}][a-zß-öø-ÿĀ-ž&&\p{Ll}]*(?:er|e|es|en)";
/// Prepositions that begin a street's name: `Na Příkopě`, `U Nádraží`, `Am Sonnenhang`, `An der Alster`.
const PREP: &str =
    r"(?:(?:Na|U|V|Pod|Nad|Za|K|Ke|Am|An|Auf|Im|In|Zum|Zur)[ \t]+(?:(?:der|dem|den)[ \t]+)?)";

/// A word boundary before (`<B>`) and after (`<E>`) a match, as a character outside the captured span: the
/// regex crate's DFAs cannot do Unicode `\\b` on non-ASCII text and fall back to a far slower engine.
const BEFORE: &str = r"(?:^|[^A-Za-zÀ-ÖØ-öø-ž0-9_])";
const AFTER: &str = r"(?:$|[^A-Za-zÀ-ÖØ-öø-ž0-9_])";

fn expand(pattern: &str) -> String {
    pattern
        .replace("<B>", BEFORE)
        .replace("<E>", AFTER)
        .replace("<TAIL>", TAIL)
        .replace("<CITY>", CITY)
        .replace("<PC>", PC)
        .replace("<UKPC>", UKPC)
        .replace("<NUM>", NUM)
        .replace("<ADJ>", ADJ)
        .replace("<PREP>", PREP)
        .replace("<W>", W)
}

fn regex(pattern: &str) -> Regex {
    Regex::new(&expand(pattern)).expect("valid regex")
}

/// Street addresses; each expression's group `a` is the address.
static ADDRESSES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // English: number, name, suffix — "27 Baker Street, NW1 6XE London", "5 Station Rd, Leeds LS1 4DY".
        r"<B>(?P<a>(?:(?:Flat|Apartment|Apt\.?|Unit|Suite)[ \t]+[0-9]{1,4}[A-Za-z]?,?[ \t]+)?<NUM>[ \t]+(?:<W>[ \t]+){1,3}(?i:street|st|road|rd|avenue|ave|lane|ln|way|drive|dr|close|court|ct|crescent|place|square|sq|terrace|boulevard|blvd|gardens|grove|row|mews|walk|parade)\.?<TAIL>)<E>",
        // French: number, type, name — "12 rue de la Paix, 75002 Paris", "3 bis rue des Lilas".
        r"<B>(?P<a><NUM>(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:rue|avenue|av\.|boulevard|bd|bld|place|allée|chemin|impasse|quai|cours|route|passage|square|voie|promenade|faubourg)[ \t]+(?:(?:de[ \t]+la|de[ \t]+l['’]|des|du|de|d['’]|la|le|les|l['’])[ \t]*)?<W>(?:[ \t]+(?:(?:de|du|des|la|le|d['’]|l['’])[ \t]*)?<W>){0,3}<TAIL>)<E>",
        // German: street word, number — "Hauptstraße 12", "Berliner Str. 45", "Am Marktplatz 3", "Lindenallee 7".
        r"<B>(?P<a>(?:(?:<ADJ>|An|Am|Auf|In|Im|Zum|Zur|Unter|Hinter|Vor)[ \t]+(?:(?:der|dem|den|die)[ \t]+)?)?(?:[A-ZÀ-ÖØ-ÞĀ-ž&&\p{Lu}][a-zß-öø-ÿĀ-ž&&\p{Ll}]*(?:straße|strasse|str\.|weg|platz|gasse|allee|damm|ufer|chaussee|steig|pfad|graben)|<ADJ>[ \t]+(?:Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Ring|Damm|Ufer|Markt|Chaussee))[ \t]*<NUM><TAIL>)<E>",
        // Czech and Polish: type, name, number — "ul. Marszałkowska 10/5, 00-001 Warszawa", "náměstí Míru 15",
        // "ul. 3 Maja 12", "ul. Mickiewicza 8 m. 12".
        r"<B>(?P<a>(?i:ulice|ulici|ulicí|ul\.|ulica|ulicy|ulicę|náměstí|nám\.|třída|třídě|tř\.|nábřeží|nábř\.|sídliště|al\.|aleja|alei|aleję|pl\.|plac|placu|os\.|osiedle|osiedlu)[ \t]*(?:[0-9]{1,2}[ \t]+)?<W>(?:[ \t]+(?:(?:z|ze|na|nad|pod|u|v|i)[ \t]+)?<W>){0,2}(?:[ \t]+[IVX]{1,4})?[ \t]+<NUM>(?:[ \t]*(?:m\.|lok\.)[ \t]*[0-9]{1,4})?<TAIL>)<E>",
        // Czech and Polish: name, type, number — "Václavské náměstí 1", "Masarykově náměstí 3".
        r"<B>(?P<a><W>[ \t]+(?i:náměstí|nám\.|třída|třídě|nábřeží|nábř\.|plac|aleja)[ \t]+<NUM><TAIL>)<E>",
        // Any street of capitalised words followed by a number, a postcode and a city: "Korunní 45, 120 00 Praha 2",
        // "Am Sonnenhang 14, 79100 Freiburg".
        r"<B>(?P<a><PREP>?<W>(?:[ \t]+<W>){0,2}[ \t]+<NUM>,?[ \t]+(?:<PC>)[ \t]+<CITY>)<E>",
        // The same without a postcode after an address keyword: "Bydlím v ulici Korunní 45", "Adresa: Palackého 18".
        r"<B>(?i:(?:address|adresa|adresu|adrese|adresou|adresse|adres|adresem|adresie|anschrift|lieferadresse|rechnungsadresse|bydlím|bydlíme|bydliště|wohne|wohnen|mieszkam|mieszkamy|habite|domicile|live[ \t]+at|living[ \t]+at))(?:[ \t]*:[ \t]*|[ \t]+(?:[a-zß-öø-ÿĀ-ž&&\p{Ll}]+[ \t]+){0,3})(?P<a><PREP>?<W>(?:[ \t]+<W>){0,2}[ \t]+<NUM><TAIL>)<E>",
    ]
    .iter()
    .map(|p| regex(p))
    .collect()
});

/// A phrase introducing oneself, an optional title, and one to three capitalised words (group `n`).
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"<B>(?P<p>(?i:my[ \t]+name[ \t]+is|my[ \t]+name['’]s|i[ \t]+am|i['’]m|this[ \t]+is",
        r"|jmenuji[ \t]+se|jmenuju[ \t]+se|mé[ \t]+jméno[ \t]+je|moje[ \t]+jméno[ \t]+je|jsem|tady[ \t]+je|tady",
        r"|nazywam[ \t]+się|mam[ \t]+na[ \t]+imię|jestem|z[ \t]+tej[ \t]+strony",
        r"|ich[ \t]+heiße|ich[ \t]+heisse|mein[ \t]+name[ \t]+ist|ich[ \t]+bin|hier[ \t]+ist|hier[ \t]+spricht",
        r"|je[ \t]+m['’]appelle|mon[ \t]+nom[ \t]+est|je[ \t]+suis|moi[ \t]+c['’]est|c['’]est|ici|it['’]s))",
        r"[ \t]*[,:]?[ \t]+(?:(?:der|die)[ \t]+)?",
        r"(?P<t>(?:Mr|Mrs|Ms|Dr|M|Mme|Mlle)\.?[ \t]+|(?:Miss|Herr|Frau|[Pp]an|[Pp]aní|[Pp]ani|Madame|Monsieur|Mademoiselle)[ \t]+)?",
        r"(?P<n><W>(?:[ \t]+<W>){0,2})<E>",
    ))
});

/// A closing formula and a name of one to three words ending its line (group `n`): "Regards, Jana Nováková".
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"<B>(?i:(?:regards|kind[ \t]+regards|best[ \t]+regards|best|thanks|thank[ \t]+you|many[ \t]+thanks|cheers",
        r"|mit[ \t]+freundlichen[ \t]+grüßen|viele[ \t]+grüße|liebe[ \t]+grüße|beste[ \t]+grüße|grüße|gruß|danke",
        r"|s[ \t]+pozdravem|se[ \t]+srdečným[ \t]+pozdravem|děkuji|díky|pozdrawiam|z[ \t]+poważaniem|dziękuję",
        r"|cordialement|bien[ \t]+à[ \t]+vous|merci|bonne[ \t]+journée))",
        r"[ \t]*[,!.]?[ \t]*\n?[ \t]*(?P<n><W>(?:[ \t]+<W>){0,2})[ \t]*(?:\n|\(|$)",
    ))
});

/// Phrases that say the words after them are a name (the others, "I am", "jsem", "ich bin", may be followed by
/// a capitalised noun, a brand or a model).
const NAME_PHRASES: &[&str] = &[
    "name", "jmenuji", "jmenuju", "jméno", "nazywam", "imię", "heiße", "heisse", "appelle", "nom",
    "moi",
];

const MONTHS: &str = concat!(
    "january|february|march|april|may|june|july|august|september|october|november|december",
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec",
    "|januar|jänner|februar|märz|april|mai|juni|juli|oktober|dezember",
    "|ledna|února|března|dubna|května|června|července|srpna|září|října|listopadu|prosince",
    "|stycznia|lutego|marca|kwietnia|maja|czerwca|lipca|sierpnia|września|października|listopada|grudnia",
    "|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre",
);

fn date() -> String {
    format!(
        concat!(
            r"[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}|[0-9]{{4}}/[0-9]{{1,2}}/[0-9]{{1,2}}",
            r"|[0-9]{{1,2}}\.[ \t]?[0-9]{{1,2}}\.[ \t]?(?:[0-9]{{4}}|[0-9]{{2}})",
            r"|[0-9]{{1,2}}/[0-9]{{1,2}}/(?:[0-9]{{4}}|[0-9]{{2}})|[0-9]{{1,2}}-[0-9]{{1,2}}-[0-9]{{4}}",
            r"|(?:the[ \t]+)?[0-9]{{1,2}}(?:\.|st|nd|rd|th|er)?[ \t]+(?:of[ \t]+)?(?:{m})\.?,?[ \t]+[0-9]{{4}}",
            r"|(?:{m})\.?[ \t]+[0-9]{{1,2}}(?:st|nd|rd|th)?,?[ \t]+[0-9]{{4}}",
        ),
        m = MONTHS
    )
}

/// Dates of birth (group `d`): after a keyword and at most 16 characters that are not digits or line breaks,
/// after French "né le", or before German "geboren" / Czech "narozen" / Polish "urodzony".
static BIRTH_DATES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let d = date();
    [
        format!(
            concat!(
                r"(?i)(?:<B>(?:date[ \t]+of[ \t]+birth|dob|d\.o\.b|birth[ \t]*date|born|datum[ \t]+narození",
                r"|narozen[aáý]?|narodil[a]?|data[ \t]+urodzenia|urodzon[aey]|urodzony|urodził(?:am|em|a)?|geburtsdatum|geb\.-datum|geboren",
                r"|date[ \t]+de[ \t]+naissance)<E>|<B>(?:nar|ur|geb)\.)[^0-9\n]{{0,16}}?(?P<d>{d})<E>"
            ),
            d = d
        ),
        format!(r"(?i)<B>née?[ \t]+(?:à[ \t]+[A-ZÀ-ÖØ-ÞĀ-ž&&\p{{Lu}}][A-Za-zÀ-ÖØ-öø-ž-]+(?:[ \t]+[A-ZÀ-ÖØ-ÞĀ-ž&&\p{{Lu}}][A-Za-zÀ-ÖØ-öø-ž-]+)?[ \t]+)?(?:le[ \t]+)?(?P<d>{d})<E>"),
        format!(
            r"(?i)<B>(?P<d>{d})[ \t]+(?:in[ \t]+[A-ZÀ-ÖØ-ÞĀ-ž&&\p{{Lu}}][a-zß-öø-ÿĀ-ž&&\p{{Ll}}]+[ \t]+)?(?:geboren|narozen[aáý]?|urodzon[aey]|urodzony)<E>"
        ),
    ]
    .iter()
    .map(|p| regex(p))
    .collect()
});

/// Capitalised words that are not names after "I am", "ich bin", "jsem", … (lower-cased).
static NOT_NAMES: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| words::NOT_NAMES.iter().copied().collect());
static FIRST_NAMES: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| words::FIRST_NAMES.iter().copied().collect());

/// Street words after which a German compound is no street ("Parkplatz 12", "Sitzplatz 14A").
fn not_a_street(word: &str) -> bool {
    let w = word.to_lowercase();
    words::NOT_STREETS.iter().any(|s| w.ends_with(s))
}

fn is_stop_word(word: &str) -> bool {
    NOT_NAMES.contains(word.to_lowercase().as_str())
}

// --- finding -------------------------------------------------------------------------------------------------

/// The personal data the free-text detectors find in `text`: sorted, non-overlapping spans (where two overlap
/// the one starting first, then the longer, wins), each covering the data only, not the phrase before it.
pub fn find(text: &str) -> Vec<(Range<usize>, Detector)> {
    let mut found: Vec<(Range<usize>, Detector)> = Vec::new();
    // Addresses and dates need a digit: most messages have none, and these expressions are the costly ones.
    let digits = text.bytes().any(|b| b.is_ascii_digit());
    for re in ADDRESSES.iter().filter(|_| digits) {
        for c in re.captures_iter(text) {
            if let Some(span) = c.name("a").and_then(|a| address_span(text, a.range())) {
                found.push((span, Detector::Address));
            }
        }
    }
    for c in NAME.captures_iter(text) {
        let (Some(phrase), Some(names)) = (c.name("p"), c.name("n")) else {
            continue;
        };
        // A title ("Madame Roux") says a name follows as much as "my name is" does.
        let strong = c.name("t").is_some()
            || NAME_PHRASES
                .iter()
                .any(|p| phrase.as_str().to_lowercase().contains(p));
        if let Some(span) = name_span(text, names.range(), strong) {
            found.push((span, Detector::Name));
        }
    }
    for c in SIGN_OFF.captures_iter(text) {
        let Some(names) = c.name("n") else {
            continue;
        };
        if let Some(span) = name_span(text, names.range(), true) {
            found.push((span, Detector::Name));
        }
    }
    for re in BIRTH_DATES.iter().filter(|_| digits) {
        for c in re.captures_iter(text) {
            if let Some(date) = c.name("d") {
                found.push((date.range(), Detector::BirthDate));
            }
        }
    }
    found.sort_unstable_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
    let mut out: Vec<(Range<usize>, Detector)> = Vec::with_capacity(found.len());
    for (span, detector) in found {
        if out.last().is_none_or(|(last, _)| span.start >= last.end) {
            out.push((span, detector));
        }
    }
    out
}

/// The words of `text[span]` with their ranges (split at spaces and tabs).
fn words_in(text: &str, span: Range<usize>) -> impl Iterator<Item = Range<usize>> + '_ {
    let base = span.start;
    text[span]
        .split([' ', '\t'])
        .scan(base, |pos, w| {
            let r = *pos..*pos + w.len();
            *pos += w.len() + 1;
            Some(r)
        })
        .filter(|r| !r.is_empty())
}

/// An address match without greeting words before it ("Hallo Hauptstraße 12"), without what follows a
/// non-address word in its city ("…, 10115 Berlin Danke" ends at "Berlin"), and without a full stop after a
/// whole street word; `None` when it is a look-alike ("Parkplatz 12").
fn address_span(text: &str, span: Range<usize>) -> Option<Range<usize>> {
    let mut words: Vec<Range<usize>> = words_in(text, span.clone()).collect();
    let trimmed = |t: &str| t.trim_matches(|c: char| !c.is_alphanumeric()).to_string();
    while words.len() > 2 && is_stop_word(&trimmed(&text[words[0].clone()])) {
        words.remove(0);
    }
    // The first word with a digit is the house number: stop words after it (in the city) end the address.
    if let Some(number) = words
        .iter()
        .position(|w| text[w.clone()].chars().any(|c| c.is_ascii_digit()))
    {
        if words[..number]
            .iter()
            .any(|w| not_a_street(&trimmed(&text[w.clone()])))
        {
            return None;
        }
        // Only capitalised ones: lower-case words are the connectors of "rue du Moulin", "Ústí nad Labem".
        let ends_address = |w: &str| w.starts_with(char::is_uppercase) && is_stop_word(w);
        if let Some(stop) =
            (number + 1..words.len()).find(|&i| ends_address(&trimmed(&text[words[i].clone()])))
        {
            words.truncate(stop);
        }
    }
    let (start, mut end) = (words.first()?.start, words.last()?.end);
    while end > start && matches!(text.as_bytes()[end - 1], b',' | b';' | b':') {
        end -= 1;
    }
    // "27 Baker Street." loses the sentence's full stop; "Berliner Str. 45" and "5 Station Rd." keep theirs.
    if text[start..end].ends_with('.') {
        let last = text[start..end - 1]
            .rsplit([' ', '\t'])
            .next()
            .unwrap_or("");
        if last.chars().count() > 4 || last.chars().any(|c| c.is_ascii_digit()) {
            end -= 1;
        }
    }
    (end > start).then_some(start..end)
}

/// The name among the captured words: those before the first word that is no name ("Jana Here" → "Jana").
/// After a phrase that is not about names, the candidate is dropped when a model number or code follows it
/// ("this is Galaxy S21").
fn name_span(text: &str, span: Range<usize>, strong: bool) -> Option<Range<usize>> {
    let words: Vec<Range<usize>> = words_in(text, span)
        .take_while(|w| !is_stop_word(&text[w.clone()]))
        .collect();
    let (start, end) = (words.first()?.start, words.last()?.end);
    if !strong
        && words.len() == 1
        && !FIRST_NAMES.contains(text[start..end].to_lowercase().as_str())
    {
        return None;
    }
    if !strong {
        let next = text[end..].trim_start_matches([' ', '\t']);
        let token: &str = next.split([' ', '\t', ',', '.']).next().unwrap_or("");
        if token.chars().any(|c| c.is_ascii_digit()) && next.len() < text.len() - end {
            return None;
        }
    }
    Some(start..end)
}

// --- the allow-list ------------------------------------------------------------------------------------------

/// The longest item `keep` accepts, in characters (what bounds the work of checking one match).
const MAX_KEEP_CHARS: usize = 200;
/// The most items `keep` accepts: each is compiled, and anyone may pass a list to `gdpr._erase_scrub`.
const MAX_KEEP_ITEMS: usize = 100;

/// The business's own contact data that scrubbing leaves alone: exact strings (case-insensitive), e-mail
/// domains (`@shop.example`) and phone numbers (compared by their digits).
#[derive(Debug, Default)]
pub struct Keep {
    /// Each item, case-insensitively, as written.
    exact: Vec<Regex>,
    /// Lower-cased domains whose addresses (and their subdomains' addresses) are kept.
    domains: Vec<String>,
    /// The digits of each phone-like item (a leading `00` dropped).
    phones: Vec<String>,
    /// The longest item in bytes, case-folded matches may be up to 3 times as long.
    longest: usize,
}

impl Keep {
    /// The allow-list of `items`: an item starting with `@` keeps every address of that domain; one made of
    /// digits, spaces, `+-./()` (at least 6 digits) keeps every phone number with the same digits, with or
    /// without its country code; every item is also kept wherever it occurs, case-insensitively.
    pub fn new(items: &[String]) -> Result<Keep, String> {
        if items.len() > MAX_KEEP_ITEMS {
            return Err(format!(
                "has {} items, more than {MAX_KEEP_ITEMS}",
                items.len()
            ));
        }
        let mut keep = Keep::default();
        for (i, item) in items.iter().enumerate() {
            let item = item.trim();
            let n = i + 1;
            if item.is_empty() {
                return Err(format!("item {n} is empty"));
            }
            if item.chars().count() < 3 {
                return Err(format!("item {n} ({item:?}) is shorter than 3 characters"));
            }
            if item.chars().count() > MAX_KEEP_CHARS {
                return Err(format!(
                    "item {n} is longer than {MAX_KEEP_CHARS} characters"
                ));
            }
            if let Some(domain) = item.strip_prefix('@') {
                if domain.contains(['@', ' ']) || !domain.contains('.') {
                    return Err(format!(
                        "item {n} ({item:?}) is not an e-mail domain like @shop.example"
                    ));
                }
                keep.domains.push(domain.to_lowercase());
                continue;
            }
            let digits = phone_digits(item);
            if digits.len() >= 6
                && item
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-./()".contains(c))
            {
                keep.phones.push(digits);
            }
            keep.exact.push(
                Regex::new(&format!("(?i){}", regex::escape(item)))
                    .map_err(|e| format!("item {n}: {e}"))?,
            );
            keep.longest = keep.longest.max(item.len());
        }
        Ok(keep)
    }

    /// Whether `text[span]` is kept: it lies within an occurrence of a kept string, or is an e-mail address
    /// of a kept domain, or a phone number (no letters) with a kept phone's digits.
    pub fn keeps(&self, text: &str, span: Range<usize>) -> bool {
        let s = &text[span.clone()];
        if !self.domains.is_empty() {
            let at = s
                .rfind('@')
                .map(|i| i + 1)
                .or_else(|| s.to_lowercase().rfind("%40").map(|i| i + 3));
            if let Some(at) = at {
                let domain = s[at..].to_lowercase();
                if self.domains.iter().any(|d| {
                    domain == *d
                        || (domain.ends_with(d.as_str())
                            && domain[..domain.len() - d.len()].ends_with('.'))
                }) {
                    return true;
                }
            }
        }
        if !self.phones.is_empty() && !s.chars().any(char::is_alphabetic) {
            let digits = phone_digits(s);
            if self.phones.iter().any(|p| same_phone(p, &digits)) {
                return true;
            }
        }
        // An occurrence containing the span starts at most 3 × `longest` bytes before its end.
        let reach = 3 * self.longest;
        if self.exact.is_empty() || span.len() > reach {
            return false;
        }
        let from = floor_char_boundary(text, span.end.saturating_sub(reach));
        let to = ceil_char_boundary(text, (span.start + reach).min(text.len()));
        let window = &text[from..to];
        self.exact.iter().any(|re| {
            re.find_iter(window)
                .any(|m| from + m.start() <= span.start && from + m.end() >= span.end)
        })
    }

    /// Where the kept strings occur in `text` (the free-text detectors leave these alone altogether).
    pub fn occurrences(&self, text: &str) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = self
            .exact
            .iter()
            .flat_map(|re| re.find_iter(text).map(|m| m.range()))
            .collect();
        out.sort_unstable_by_key(|r| (r.start, r.end));
        out
    }
}

/// A phone number's digits, without the `00` that stands for `+`.
fn phone_digits(s: &str) -> String {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    match s.trim_start().strip_prefix("00") {
        Some(_) => digits[2..].to_string(),
        None => digits,
    }
}

/// The same number, or the same national number (9 digits or more) with and without a 1–3 digit country code.
fn same_phone(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    a == b || (short.len() >= 9 && long.len() - short.len() <= 3 && long.ends_with(short))
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}
