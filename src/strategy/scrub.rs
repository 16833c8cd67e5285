//! `scrub`: free text (chat messages, notes) keeps its words but loses the personal data inside it.
//!
//! 1. The erased subject's own identifiers — every value of their declared PII columns as stored before the
//!    erasure (string values inside jsonb too) — are replaced wherever they occur, case-insensitively, as whole
//!    words: each whole value and its URL-encoded form (`jan%40example.cz`); for names, addresses and
//!    companies also each comma-separated segment and each word of at least 3 characters (name parts; street,
//!    house number with its street, city), so `ORD-000123` survives while `Vinohradská` does not.
//! 2. Generic patterns: e-mail addresses, IBANs, payment-card numbers (Luhn-checked), IPv6 and IPv4
//!    addresses, phone numbers in international, Czech and Polish formats (`patterns`).
//! 3. Free-text detectors: street addresses, names introduced by a phrase ("my name is …") and dates of birth
//!    next to a keyword, in English, German, Czech, Polish and French (`free_text`).
//!
//! An allow-list (`Keep`) spares the business's own contact data from steps 2 and 3.
//!
//! Each is replaced by a typed placeholder (`[email]`, `[phone]`, `[name]`, `[iban]`, …). The regex crate
//! matches in linear time, so no input can make scrubbing backtrack catastrophically.

use std::cell::RefCell;
use std::rc::Rc;

use pgrx::prelude::*;

use super::{require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, OrReport, Result};

pub struct Scrub;

impl Strategy for Scrub {
    fn name(&self) -> &'static str {
        "scrub"
    }
    fn option_keys(&self) -> &'static [&'static str] {
        &["keep"]
    }
    fn validate(&self, table: &str, col: &Column, options: &Options) -> Result<()> {
        require_text("scrub", table, col)?;
        if let Some(list) = keep_option(options) {
            let items = list.map_err(|e| keep_error(table, col, &e))?;
            Keep::new(&items).map_err(|e| keep_error(table, col, &e))?;
        }
        Ok(())
    }
    fn erase_expr(&self, col: &Column, options: &Options, sql: &mut ExprParams) -> Option<String> {
        let identifiers = sql.subject_identifiers();
        Some(match keep_option(options).and_then(|l| l.ok()) {
            Some(items) => {
                let keep = sql.text(serde_json::Value::from(items).to_string());
                format!("gdpr._erase_scrub({}, {identifiers}, {keep})", col.sql_name)
            }
            None => format!("gdpr._erase_scrub({}, {identifiers})", col.sql_name),
        })
    }
}

/// The `keep` option: the business's own contact data that scrubbing leaves in place (`support@shop.example`,
/// `@shop.example` for a whole domain, `+420 800 123 456`, the shop's street address).
fn keep_option(options: &Options) -> Option<std::result::Result<Vec<String>, String>> {
    let value = options.get("keep")?;
    Some(match value.as_array() {
        Some(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("items must be strings, got {i}"))
            })
            .collect(),
        None => Err(format!("must be a list of strings, got {value}")),
    })
}

fn keep_error(table: &str, col: &Column, message: &str) -> GdprError {
    GdprError::InvalidParameter(format!(
        "strategy \"scrub\" for {table}.{}: option \"keep\" {message}",
        col.name
    ))
}

thread_local! {
    /// The last `keep` list an erasure's statement passed, compiled (the same for every row of a statement).
    static LAST_KEEP: RefCell<Option<(String, Rc<Keep>)>> = const { RefCell::new(None) };
}

/// The compiled `keep` list of its JSON text.
fn compiled_keep(json: &str) -> Result<Rc<Keep>> {
    if let Some(keep) = LAST_KEEP.with(|k| {
        k.borrow()
            .as_ref()
            .filter(|(j, _)| j == json)
            .map(|(_, keep)| keep.clone())
    }) {
        return Ok(keep);
    }
    let items: Vec<String> = serde_json::from_str(json)?;
    let keep = Rc::new(
        Keep::new(&items)
            .map_err(|e| GdprError::InvalidParameter(format!("_erase_scrub: keep list {e}")))?,
    );
    LAST_KEEP.with(|k| *k.borrow_mut() = Some((json.to_string(), keep.clone())));
    Ok(keep)
}

// --- generic patterns and free-text detectors ------------------------------------------------------------------

mod free_text;
mod patterns;
use free_text::Keep;
pub use patterns::{scrub_patterns, scrub_patterns_keeping};

// --- the subject's own identifiers ---------------------------------------------------------------------------

mod identifiers;
use identifiers::Identifiers;

pub(crate) use crate::interrupts::{check_interrupts, Steps};

/// The identifier values and kinds a compiled matcher was built from.
type IdentifierKey = (Vec<Option<String>>, Vec<Option<String>>);

thread_local! {
    /// The identifiers of the subject being erased: compiled once per erasure, not once per row.
    static LAST_IDENTIFIERS: RefCell<Option<(IdentifierKey, Rc<Identifiers>)>> = const { RefCell::new(None) };
}

/// The matcher for these identifiers: the cached one when they are the ones it was built from (compared in
/// place: this runs for every row an erasure scrubs), else a new one.
fn compiled_identifiers(
    values: &[Option<&str>],
    kinds: &[Option<&str>],
) -> Result<Rc<Identifiers>> {
    LAST_IDENTIFIERS.with(|cell| {
        if let Some(((v, k), ids)) = cell.borrow().as_ref() {
            if v.iter().map(Option::as_deref).eq(values.iter().copied())
                && k.iter().map(Option::as_deref).eq(kinds.iter().copied())
            {
                return Ok(ids.clone());
            }
        }
        let owned = |xs: &[Option<&str>]| -> Vec<Option<String>> {
            xs.iter().map(|x| x.map(str::to_string)).collect()
        };
        let (values, kinds) = (owned(values), owned(kinds));
        // The previous matcher is dropped first: with many identifiers it is large.
        *cell.borrow_mut() = None;
        let ids = Rc::new(Identifiers::new(&values, &kinds)?);
        *cell.borrow_mut() = Some(((values, kinds), ids.clone()));
        Ok(ids)
    })
}

/// Identifiers registered for the statements of one erasure: the values and kinds, compiled on first use.
struct Registered {
    token: i64,
    values: Vec<Option<String>>,
    kinds: Vec<Option<String>>,
    compiled: Option<Rc<Identifiers>>,
}

thread_local! {
    /// The identifiers of the subjects being erased. The statements receive a token, not the identifiers: an
    /// erasure of many subjects has thousands, and each row would otherwise get (and compare) a copy of them.
    static REGISTERED: RefCell<Option<Registered>> = const { RefCell::new(None) };
}

/// Registers the identifiers an erasure's statements scrub; returns their token (0 when there are none).
pub fn register(ids: &super::SubjectIdentifiers) -> i64 {
    REGISTERED.with(|cell| *cell.borrow_mut() = None); // the previous matcher may be large
    if ids.values.is_empty() {
        return 0;
    }
    // Random, not counted: a token is no handle another statement in the session could guess to test names
    // against the erased subject's identifiers (and `unregister` drops them when the erasure is done).
    let token = rand::random::<i64>().checked_abs().unwrap_or(1).max(1);
    REGISTERED.with(|cell| {
        *cell.borrow_mut() = Some(Registered {
            token,
            values: ids.values.iter().cloned().map(Some).collect(),
            kinds: ids.kinds.iter().cloned().map(Some).collect(),
            compiled: None,
        })
    });
    token
}

/// Drops the registered identifiers: the erasure that registered them is done.
pub fn unregister() {
    REGISTERED.with(|cell| *cell.borrow_mut() = None);
}

/// Scrubs `text` of the generic patterns and of the identifiers registered under `token` (0: patterns only).
pub fn scrub_registered(text: &str, token: i64) -> Result<String> {
    scrub_registered_keeping(text, token, None)
}

/// `scrub_registered`, sparing what `keep` lists from the patterns and detectors.
fn scrub_registered_keeping(text: &str, token: i64, keep: Option<&Keep>) -> Result<String> {
    if token == 0 {
        return Ok(scrub_patterns_keeping(text, keep));
    }
    let ids = REGISTERED.with(|cell| {
        let mut slot = cell.borrow_mut();
        let registered = slot.as_mut().filter(|r| r.token == token).ok_or_else(|| {
            GdprError::InvalidParameter(format!(
                "_erase_scrub: identifiers {token} are not registered in this session (an erasure registers them)"
            ))
        })?;
        if registered.compiled.is_none() {
            registered.compiled = Some(Rc::new(Identifiers::new(
                &registered.values,
                &registered.kinds,
            )?));
        }
        Ok::<_, GdprError>(registered.compiled.clone())
    })?;
    Ok(match ids {
        Some(ids) => scrub_patterns_keeping(&ids.replace(text), keep),
        None => scrub_patterns_keeping(text, keep),
    })
}

/// Scrubs `text`: the subject's identifiers first (they may contain generic patterns), then the patterns.
pub fn scrub(text: &str, values: &[Option<String>], kinds: &[Option<String>]) -> Result<String> {
    if values.is_empty() {
        return Ok(scrub_patterns(text));
    }
    let values: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
    let kinds: Vec<Option<&str>> = kinds.iter().map(Option::as_deref).collect();
    let ids = compiled_identifiers(&values, &kinds)?;
    Ok(scrub_patterns(&ids.replace(text)))
}

/// Internal: `scrub` in an erasure's UPDATE, with the identifiers registered under `identifiers` (0: none).
#[pg_extern(immutable, parallel_safe)]
fn _erase_scrub(value: Option<&str>, identifiers: Option<i64>) -> Option<String> {
    value.map(|v| scrub_registered(v, identifiers.unwrap_or(0)).or_report())
}

/// Internal: `_erase_scrub` with the policy's `keep` list (a JSON array of strings).
#[pg_extern(name = "_erase_scrub", immutable, parallel_safe)]
fn _erase_scrub_keeping(
    value: Option<&str>,
    identifiers: Option<i64>,
    keep: Option<&str>,
) -> Option<String> {
    value.map(|v| {
        let keep = keep.map(compiled_keep).transpose().or_report();
        scrub_registered_keeping(v, identifiers.unwrap_or(0), keep.as_deref()).or_report()
    })
}

/// `gdpr.scrub(text)`: generic patterns and free-text detectors only. Keyless, open to every role.
#[pg_extern(name = "scrub", immutable, strict, parallel_safe)]
fn scrub_text(value: &str) -> String {
    scrub_patterns(value)
}

/// `gdpr.scrub(text, identifiers)`: also replaces the given identifiers (and their parts) by `[redacted]`.
#[pg_extern(name = "scrub", immutable, parallel_safe)]
fn scrub_text_with(
    value: Option<&str>,
    identifiers: Option<Vec<Option<String>>>,
) -> Option<String> {
    value.map(|v| scrub(v, &identifiers.unwrap_or_default(), &[]).or_report())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_match_when_lower_casing_changes_lengths() {
        // 'İ' lower-cases to two characters: offsets must still map back to the original text.
        let values = vec![Some("Kemal Yıldız".to_string())];
        let kinds = vec![Some("name".to_string())];
        assert_eq!(
            scrub(
                "İstanbul: KEMAL Yıldız wrote, then yıldız; Yıldızlar stays.",
                &values,
                &kinds
            )
            .unwrap(),
            "İstanbul: [name] wrote, then [name]; Yıldızlar stays."
        );
    }

    #[test]
    fn subject_identifiers_whole_words_and_parts() {
        let values = vec![
            Some("Jan Novák".to_string()),
            Some("jan@example.cz".to_string()),
            Some("Vinohradská 12, Praha".to_string()),
        ];
        let kinds = vec![
            Some("name".to_string()),
            Some("email".to_string()),
            Some("address".to_string()),
        ];
        let text = "Hi, I am JAN NOVÁK (novák), mail jan%40example.cz, I live at Vinohradská 12 in Praha. \
                    Order ORD-000123, Janek and Novákova stay.";
        assert_eq!(
            scrub(text, &values, &kinds).unwrap(),
            "Hi, I am [name] ([name]), mail [email], I live at [address] in [address]. \
             Order ORD-000123, Janek and Novákova stay."
        );
    }
}
