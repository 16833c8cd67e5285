//! `gdpr.replay_erasures(ledger)`: a database restored from a backup older than some erasures brings their
//! subjects back. The ledger (`gdpr.erasure_ledger()`, kept next to the backups) lists every erasure by its keys,
//! and every consent withdrawal; replaying it erases again, through the same engine, the same declarations and
//! under the original erasure id, every subject the restored log does not hold — so a second replay finds them
//! all logged and does nothing — and then withdraws again, as the caller, the consents it brought back in force.
//! The ledger is the caller's input: it names what to erase, never how (the declarations here decide).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::audit;
use crate::cache;
use crate::consent::registry;
use crate::error::{GdprError, Result};
use crate::subject::erase::{self, Logging, OnHold, Options, Origin};
use crate::subject::plan::{Action, ErasurePlan};

/// One erasure of the ledger.
struct Entry<'a> {
    /// Lower case, as the log's uuid prints.
    erasure_id: String,
    kind: &'a str,
    subject_id: &'a str,
    origin: &'a str,
    traces: bool,
}

/// One consent withdrawal of the ledger: the consent is named by its id, text and grant time.
struct Withdrawal<'a> {
    consent_id: i64,
    text_id: i64,
    granted_at: &'a str,
}

/// How an entry is erased again.
enum Target {
    Rows(std::rc::Rc<ErasurePlan>, Vec<Vec<String>>, Logging),
    /// Expired rows without a key (deleted by ctid): nothing names them; retention finds them again.
    NotReplayable(&'static str),
}

/// What a ledger's kind names in this database.
#[derive(Clone, Copy)]
enum Kind {
    Subject,
    /// The table an erasure was rooted at, with what this database's declarations erase there: its retention
    /// rule's action (delete or anonymize), and whether a consent withdrawal anonymizes its rows.
    Table {
        oid: pg_sys::Oid,
        retention: Option<Action>,
        consent_root: bool,
    },
}

pub fn replay(ledger: &Value, dry_run: bool) -> Result<Value> {
    crate::privilege::require_primary("replaying a ledger")?;
    let entries = parse_erasures(ledger)?;
    let withdrawals = parse_withdrawals(ledger)?;
    if !withdrawals.is_empty() {
        require_withdrawal_right(withdrawals.len())?;
    }

    let ids: Vec<String> = entries.iter().map(|e| e.erasure_id.clone()).collect();
    let mut logged = HashSet::new();
    for (id, dry) in audit::logged_among(&ids)? {
        if dry {
            return Err(GdprError::InvalidParameter(format!(
                "erasure {id} of the ledger: this database logged a dry run under that id, not an erasure"
            )));
        }
        logged.insert(id);
    }
    let mut erased = Vec::new();
    let mut absent = Vec::new();
    let mut not_replayable = Vec::new();
    let mut rows_total = 0usize;
    let mut kinds: HashMap<&str, Kind> = HashMap::new();
    for e in entries.iter().filter(|e| !logged.contains(&e.erasure_id)) {
        check_for_interrupts!();
        let label = json!({"erasure_id": e.erasure_id, "kind": e.kind, "subject_id": e.subject_id});
        let kind = match kinds.get(e.kind) {
            Some(k) => *k,
            None => *kinds.entry(e.kind).or_insert(resolve(e)?),
        };
        let (plan, ids, logging) = match target(e, kind)? {
            Target::Rows(plan, ids, logging) => (plan, ids, logging),
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
            erasure_id: (!dry_run).then_some(e.erasure_id.as_str()),
        };
        let outcome = erase::run(&plan, ids, options, Instant::now())?;
        if outcome.erased.is_empty() {
            absent.push(label); // not in this database: restored from before the subject existed
        } else {
            rows_total += outcome.total_rows;
            let mut done = with(label, "rows", outcome.total_rows);
            if !outcome.not_found.is_empty() {
                // keys of a retention batch the restored database never held
                done["not_found"] = json!(outcome.not_found);
            }
            erased.push(done);
        }
    }
    // After the erasures: a withdrawal that blocks while rows need the consent finds them erased.
    let withdrawals = withdraw_again(&withdrawals, dry_run)?;
    Ok(json!({
        "dry_run": dry_run,
        "erasures": entries.len(),
        "already_logged": logged.len(),
        "erased": erased,
        "absent": absent,
        "not_replayable": not_replayable,
        "rows_total": rows_total,
        "withdrawals": withdrawals,
    }))
}

fn with(mut v: Value, key: &str, value: impl Into<Value>) -> Value {
    v[key] = value.into();
    v
}

fn invalid(what: String) -> GdprError {
    GdprError::InvalidParameter(format!(
        "the ledger must be a value gdpr.erasure_ledger() returned: {what}"
    ))
}

fn parse_erasures(ledger: &Value) -> Result<Vec<Entry<'_>>> {
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
            let id = text("erasure_id")?;
            if !is_uuid(id) {
                return Err(invalid(format!(
                    "erasure {}: \"{id}\" is not an erasure id",
                    i + 1
                )));
            }
            let entry = Entry {
                erasure_id: id.to_ascii_lowercase(),
                kind: text("kind")?,
                subject_id: text("subject_id")?,
                origin: text("origin")?,
                traces: e.get("traces").and_then(Value::as_bool).unwrap_or(false),
            };
            if !seen.insert(entry.erasure_id.clone()) {
                return Err(invalid(format!("erasure {id} is listed twice")));
            }
            Ok(entry)
        })
        .collect()
}

fn parse_withdrawals(ledger: &Value) -> Result<Vec<Withdrawal<'_>>> {
    let Some(list) = ledger.get("withdrawals") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| invalid("\"withdrawals\" is not an array".into()))?;
    list.iter()
        .enumerate()
        .map(|(i, w)| {
            let wrong = |key: &str| invalid(format!("withdrawal {} has no valid \"{key}\"", i + 1));
            let w = Withdrawal {
                consent_id: w["consent_id"]
                    .as_i64()
                    .ok_or_else(|| wrong("consent_id"))?,
                text_id: w["text_id"].as_i64().ok_or_else(|| wrong("text_id"))?,
                granted_at: w["granted_at"]
                    .as_str()
                    .ok_or_else(|| wrong("granted_at"))?,
            };
            // Before anything is erased: a time a statement cannot cast fails the replay up front.
            registry::check_time(w.consent_id, "granted_at", w.granted_at)?;
            Ok(w)
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

/// Withdrawing is the consent recorder's right (`gdpr.withdraw_consent`), not the eraser's.
fn require_withdrawal_right(count: usize) -> Result<()> {
    let may = Spi::get_one::<bool>(
        "SELECT pg_catalog.has_function_privilege('gdpr.withdraw_consent(bigint)', 'EXECUTE')",
    )?
    .unwrap_or(false);
    if may {
        return Ok(());
    }
    Err(GdprError::InsufficientPrivilege(format!(
        "replaying the ledger's {count} consent withdrawals needs gdpr.withdraw_consent (gdpr.grant_consent_recording)"
    )))
}

/// Withdraws again, as the caller and now (what `gdpr.withdraw_consent` records and does), each consent of the
/// ledger that is still in force here. Only the consent the ledger names: another consent granted after the
/// restore under a reused id has another grant time and is never touched.
fn withdraw_again(list: &[Withdrawal<'_>], dry_run: bool) -> Result<Value> {
    let (mut withdrawn, mut already) = (0, 0);
    let mut absent = Vec::new();
    for w in list {
        check_for_interrupts!();
        match registry::in_force(w.consent_id, w.text_id, w.granted_at)? {
            None => absent.push(json!({"consent_id": w.consent_id})),
            Some(false) => already += 1,
            Some(true) => {
                if !dry_run {
                    registry::withdraw(w.consent_id)?;
                }
                withdrawn += 1;
            }
        }
    }
    Ok(json!({"withdrawn": withdrawn, "already_withdrawn": already, "absent": absent}))
}

/// The kind as logged: a declared subject kind, or a table as its erasures log it (`schema.name`, unquoted) with
/// what the declarations here erase in it. Resolved once per kind.
fn resolve(e: &Entry<'_>) -> Result<Kind> {
    let is_subject = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM gdpr.subject WHERE kind = $1)",
        &[e.kind.into()],
    )?
    .unwrap_or(false);
    if is_subject {
        return Ok(Kind::Subject);
    }
    let (found, count) = Spi::get_two_with_args::<pg_sys::Oid, i64>(
        "SELECT min(t), count(*) FROM gdpr._tables_named($1) t",
        &[e.kind.into()],
    )?;
    let oid = match (found, count.unwrap_or(0)) {
        (Some(oid), 1) => oid,
        (_, 0) | (None, _) => {
            return Err(GdprError::UndefinedObject(format!(
                "erasure {} of the ledger: {} is neither a subject kind nor a table of this database",
                e.erasure_id, e.kind
            )))
        }
        (_, n) => {
            return Err(GdprError::InvalidParameter(format!(
                "erasure {} of the ledger: {n} tables are named {} here (a dot in a schema or table name): \
                 replay cannot tell which one the erasure was rooted at",
                e.erasure_id, e.kind
            )))
        }
    };
    // Rows named by key with no subject behind them: only a rule (retention, a withdrawal) erases those, never a
    // person's request — and a ledger is the caller's input. Replaying them is the extension owner's (the DBA
    // who restored the database).
    if !crate::privilege::is_extension_owner()? {
        return Err(GdprError::InsufficientPrivilege(format!(
            "erasure {} of the ledger: replaying an erasure rooted at table {} ({} origin) needs the extension owner: \
             it erases rows by key, which only this database's rules may do",
            e.erasure_id, e.kind, e.origin
        )));
    }
    // A retention rule that erases subjects logs their kind, not the table: only delete and anonymize count.
    let (retention, consent_root) = Spi::get_two_with_args::<String, bool>(
        "SELECT (SELECT action FROM gdpr.retention WHERE tbl = $1),
                EXISTS (SELECT 1 FROM gdpr.consent_requirement r
                         WHERE r.tbl = $1 AND r.on_withdraw = 'anonymize'
                           AND NOT EXISTS (SELECT 1 FROM gdpr.subject s WHERE s.tbl = r.tbl))",
        &[oid.into()],
    )?;
    Ok(Kind::Table {
        oid,
        retention: match retention.as_deref() {
            Some("anonymize") => Some(Action::Anonymize),
            Some("delete") => Some(Action::Delete),
            _ => None,
        },
        consent_root: consent_root.unwrap_or(false),
    })
}

fn target(e: &Entry<'_>, kind: Kind) -> Result<Target> {
    let (table, retention, consent_root) = match kind {
        Kind::Subject => {
            let plan = cache::plan_for(e.kind)?;
            let id = key_parts(e, e.subject_id, plan.root_key_len)?;
            return Ok(Target::Rows(plan, vec![id], Logging::PerSubject));
        }
        Kind::Table {
            oid,
            retention,
            consent_root,
        } => (oid, retention, consent_root),
    };
    // Only retention and consent withdrawals erase rows rooted at a table, each as this database declares it.
    let batch = e.origin == "retention" || (e.origin == "replay" && e.subject_id.starts_with('['));
    if batch {
        // A retention batch: the entry's subject id lists the keys of every row it erased.
        let action = retention.ok_or_else(|| {
            GdprError::InvalidParameter(format!(
                "erasure {} of the ledger: no retention rule here deletes or anonymizes rows of {}, so its expired \
                 rows cannot be erased again as they were",
                e.erasure_id, e.kind
            ))
        })?;
        let Ok(Value::Array(keys)) = serde_json::from_str::<Value>(e.subject_id) else {
            return Ok(Target::NotReplayable(
                "expired rows without a key: gdpr.enforce_retention() finds them again",
            ));
        };
        let plan = cache::plan_for_table(e.kind, table, Some(action))?;
        let ids = keys
            .iter()
            .map(|k| match k {
                Value::String(s) => key_parts(e, s, plan.root_key_len),
                other => key_parts(e, &other.to_string(), plan.root_key_len),
            })
            .collect::<Result<Vec<_>>>()?;
        return Ok(Target::Rows(plan, ids, Logging::PerBatch));
    }
    if !matches!(e.origin, "consent" | "replay") || !consent_root {
        return Err(GdprError::InvalidParameter(format!(
            "erasure {} of the ledger: {} is a table, and here neither a retention rule nor a consent requirement \
             erases rows rooted at it (origin {})",
            e.erasure_id, e.kind, e.origin
        )));
    }
    // A consent requirement's table: its rows go as the table's own declarations say.
    let plan = cache::plan_for_table(e.kind, table, None)?;
    let id = key_parts(e, e.subject_id, plan.root_key_len)?;
    Ok(Target::Rows(plan, vec![id], Logging::PerSubject))
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
