//! `gdpr.replay_erasures(ledger)`: a database restored from a backup older than some erasures brings their
//! subjects back. The ledger (`gdpr.erasure_ledger()`, kept next to the backups) lists every erasure by its keys;
//! replaying it erases again, through the same engine and under the original erasure id, every subject the
//! restored log does not hold — so a second replay finds them all logged and does nothing.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::audit;
use crate::cache;
use crate::error::{GdprError, Result};
use crate::subject::erase::{self, Logging, OnHold, Options, Origin};
use crate::subject::plan::{Action, ErasurePlan};

/// One erasure of the ledger.
struct Entry<'a> {
    erasure_id: &'a str,
    kind: &'a str,
    subject_id: &'a str,
    origin: &'a str,
    /// The root table's action, for erasures rooted at a table rather than a subject kind.
    action: Option<&'a str>,
    traces: bool,
}

/// How an entry is erased again.
enum Target {
    Subject(std::rc::Rc<ErasurePlan>, Vec<Vec<String>>, Logging),
    /// Expired rows without a key (deleted by ctid): nothing names them; retention finds them again.
    NotReplayable(&'static str),
}

pub fn replay(ledger: &Value, dry_run: bool) -> Result<Value> {
    let entries = parse(ledger)?;
    let ids: Vec<String> = entries.iter().map(|e| e.erasure_id.to_string()).collect();
    let logged: HashSet<String> = audit::logged_among(&ids)?.into_iter().collect();
    let mut erased = Vec::new();
    let mut absent = Vec::new();
    let mut not_replayable = Vec::new();
    let mut rows_total = 0usize;
    let mut kinds: HashMap<&str, Kind> = HashMap::new();
    for e in entries.iter().filter(|e| !logged.contains(e.erasure_id)) {
        check_for_interrupts!();
        let label = json!({"erasure_id": e.erasure_id, "kind": e.kind, "subject_id": e.subject_id});
        let kind = match kinds.get(e.kind) {
            Some(k) => *k,
            None => *kinds
                .entry(e.kind)
                .or_insert(resolve(e.kind, e.erasure_id)?),
        };
        let (plan, ids, logging) = match target(e, kind)? {
            Target::Subject(plan, ids, logging) => (plan, ids, logging),
            Target::NotReplayable(why) => {
                not_replayable.push(with(label, "reason", why));
                continue;
            }
        };
        let options = Options {
            dry_run,
            traces: e.traces,
            origin: Origin::Replay,
            logging,
            on_hold: OnHold::Fail,
            // A dry run is logged too: under a new id, so the real replay can still use the original.
            erasure_id: (!dry_run).then_some(e.erasure_id),
        };
        let outcome = erase::run(&plan, ids, options, Instant::now())?;
        if outcome.erased.is_empty() {
            absent.push(label); // not in this database: restored from before the subject existed
        } else {
            rows_total += outcome.total_rows;
            erased.push(with(label, "rows", outcome.total_rows));
        }
    }
    Ok(json!({
        "dry_run": dry_run,
        "erasures": entries.len(),
        "already_logged": logged.len(),
        "erased": erased,
        "absent": absent,
        "not_replayable": not_replayable,
        "rows_total": rows_total,
    }))
}

fn with(mut v: Value, key: &str, value: impl Into<Value>) -> Value {
    v[key] = value.into();
    v
}

fn parse(ledger: &Value) -> Result<Vec<Entry<'_>>> {
    let invalid = |what: String| {
        GdprError::InvalidParameter(format!(
            "the ledger must be a value gdpr.erasure_ledger() returned: {what}"
        ))
    };
    let list = ledger
        .get("erasures")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("it has no \"erasures\" array".into()))?;
    let mut seen = HashSet::new();
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            let text = |key: &str| {
                e.get(key)
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(format!("erasure {} has no text \"{key}\"", i + 1)))
            };
            let entry = Entry {
                erasure_id: text("erasure_id")?,
                kind: text("kind")?,
                subject_id: text("subject_id")?,
                origin: text("origin")?,
                action: e.get("action").and_then(Value::as_str),
                traces: e.get("traces").and_then(Value::as_bool).unwrap_or(false),
            };
            if !is_uuid(entry.erasure_id) {
                return Err(invalid(format!(
                    "erasure {}: \"{}\" is not an erasure id",
                    i + 1,
                    entry.erasure_id
                )));
            }
            if !seen.insert(entry.erasure_id.to_ascii_lowercase()) {
                return Err(invalid(format!(
                    "erasure {} is listed twice",
                    entry.erasure_id
                )));
            }
            Ok(entry)
        })
        .collect()
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// What a ledger's kind names in this database.
#[derive(Clone, Copy)]
enum Kind {
    Subject,
    /// The table an erasure was rooted at (a retention rule's, a consent requirement's).
    Table(pg_sys::Oid),
}

/// The kind as logged: a declared subject kind, or a table's qualified name (the text form of its regclass).
fn resolve(kind: &str, erasure_id: &str) -> Result<Kind> {
    let is_subject = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM gdpr.subject WHERE kind = $1)",
        &[kind.into()],
    )?
    .unwrap_or(false);
    if is_subject {
        return Ok(Kind::Subject);
    }
    Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                  WHERE pg_catalog.format('%I.%I', n.nspname, c.relname) = $1 AND c.relkind IN ('r', 'p'))",
        &[kind.into()],
    )?
    .map(Kind::Table)
    .ok_or_else(|| {
        GdprError::UndefinedObject(format!(
            "erasure {erasure_id} of the ledger: {kind} is neither a subject kind nor a table of this database"
        ))
    })
}

fn target(e: &Entry<'_>, kind: Kind) -> Result<Target> {
    let table = match kind {
        Kind::Subject => {
            let plan = cache::plan_for(e.kind)?;
            let id = key_parts(e, e.subject_id, plan.root_key_len)?;
            return Ok(Target::Subject(plan, vec![id], Logging::PerSubject));
        }
        Kind::Table(oid) => oid,
    };
    let action = match e.action {
        Some("anonymize") => Some(Action::Anonymize),
        Some("delete") => Some(Action::Delete),
        _ => None,
    };
    if e.origin == "retention" || (e.origin == "replay" && e.subject_id.starts_with('[')) {
        // A retention batch: the entry's subject id lists the keys of every row it erased.
        let Ok(Value::Array(keys)) = serde_json::from_str::<Value>(e.subject_id) else {
            return Ok(Target::NotReplayable(
                "expired rows without a key: gdpr.enforce_retention() finds them again",
            ));
        };
        let plan = cache::plan_for_table(e.kind, table, action)?;
        let ids = keys
            .iter()
            .map(|k| match k {
                Value::String(s) => key_parts(e, s, plan.root_key_len),
                other => key_parts(e, &other.to_string(), plan.root_key_len),
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(Target::Subject(plan, ids, Logging::PerBatch));
    }
    let plan = cache::plan_for_table(e.kind, table, action)?;
    let id = key_parts(e, e.subject_id, plan.root_key_len)?;
    Ok(Target::Subject(plan, vec![id], Logging::PerSubject))
}

/// A logged key as the engine takes it: one value, or (composite keys) the JSON array of the values.
fn key_parts(e: &Entry<'_>, label: &str, len: usize) -> Result<Vec<String>> {
    if len == 1 {
        return Ok(vec![label.to_string()]);
    }
    let parts: Option<Vec<String>> = serde_json::from_str::<Vec<Value>>(label)
        .ok()
        .and_then(|v| {
            v.into_iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect()
        });
    parts.filter(|p| p.len() == len).ok_or_else(|| {
        GdprError::InvalidParameter(format!(
            "erasure {} of the ledger: {} key {label} does not have the {len} parts of this database's key",
            e.erasure_id, e.kind
        ))
    })
}

/// Erases again every subject of `ledger` this database still holds (see the module comment).
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn replay_erasures(
    ledger: Option<pgrx::JsonB>,
    dry_run: default!(Option<bool>, false),
) -> pgrx::JsonB {
    use crate::error::OrReport;
    let ledger = ledger.unwrap_or_else(|| {
        GdprError::NullValue("the ledger to replay must not be NULL".into()).report()
    });
    let dry_run = dry_run.unwrap_or_else(|| {
        GdprError::NullValue("dry_run must be true or false, not NULL".into()).report()
    });
    pgrx::JsonB(replay(&ledger.0, dry_run).or_report())
}
