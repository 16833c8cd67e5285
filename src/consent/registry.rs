//! Granting and withdrawing consents. The consent tables belong to the extension owner: these functions run as
//! the caller and write them through fixed statements run as the owner (see privilege.rs), so an application
//! role can record what a visitor agreed to but never edit or delete the record.

use std::collections::HashSet;

use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::audit;
use crate::catalog::introspect::{self, Column, Table};
use crate::error::{GdprError, Result};
use crate::privilege::{as_extension_owner, as_table_owner, caller, require_privileges, Privilege};
use crate::subject::reach::subject_label;
use crate::subject::{erase, guard, holds};

/// Where a consent was given.
pub const SOURCES: [&str; 5] = [
    "web_chat_form",
    "video_form",
    "chatbot",
    "offline_form",
    "api",
];

pub fn grant(
    text_id: i64,
    source: &str,
    subject_kind: Option<&str>,
    subject_id: Option<&str>,
) -> Result<i64> {
    crate::privilege::require_primary("recording a consent")?;
    if !SOURCES.contains(&source) {
        return Err(GdprError::InvalidParameter(format!(
            "unknown consent source \"{source}\" (one of: {})",
            SOURCES.join(", ")
        )));
    }
    let subject = match (subject_kind, subject_id) {
        (None, None) => None,
        (Some(kind), Some(id)) => {
            crate::catalog::require_kind_declared(kind)?;
            Some((kind, id))
        }
        _ => {
            return Err(GdprError::InvalidParameter(
                "subject_kind and subject_id go together: give both or neither".into(),
            ))
        }
    };
    let (granted_by, _) = caller()?;
    as_extension_owner(|| {
        // Locking (FOR KEY SHARE: the text cannot be deleted under the new consent) needs a read-write SPI call.
        let text = Spi::connect_mut(|client| {
            let mut found = None;
            for r in client.update(
                "SELECT active, purpose, version FROM gdpr.consent_text WHERE id = $1 FOR KEY SHARE",
                None,
                &[text_id.into()],
            )? {
                found = Some((
                    r.get::<bool>(1)?.unwrap_or(false),
                    r.get::<String>(2)?.unwrap_or_default(),
                    r.get::<String>(3)?.unwrap_or_default(),
                ));
            }
            Ok::<_, GdprError>(found)
        })?;
        match text {
            None => {
                return Err(GdprError::NoDataFound(format!(
                    "consent text {text_id} does not exist"
                )))
            }
            Some((false, purpose, version)) => {
                return Err(GdprError::ObjectState(format!(
                    "consent text {text_id} ({purpose} version {version}) is no longer active: record consent to the active version"
                )))
            }
            Some(_) => {}
        }
        let id = Spi::get_one_with_args::<i64>(
            "INSERT INTO gdpr.consent (text_id, source, subject_kind, subject_id, granted_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                text_id.into(),
                source.into(),
                subject.map(|s| s.0).into(),
                subject.map(|s| s.1).into(),
                granted_by.as_str().into(),
            ],
        )?;
        id.ok_or_else(|| GdprError::NoDataFound("consent was not recorded".into()))
    })
}

/// A column whose rows need a consent, as declared by `gdpr.require_consent`.
struct Requirement {
    table: Table,
    col: Column,
    on_withdraw: String,
    /// The subject kind whose table this is, if any: withdrawing erases that subject.
    subject_kind: Option<String>,
}

/// The requirements a consent for `purpose` falls under, `block` ones first (nothing is erased before a
/// withdrawal is known to be allowed).
fn requirements(purpose: &str) -> Result<Vec<Requirement>> {
    let rows = Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT r.tbl::oid, r.col::text, r.on_withdraw,
                    (SELECT s.kind FROM gdpr.subject s WHERE s.tbl = r.tbl ORDER BY s.kind LIMIT 1)
               FROM gdpr.consent_requirement r
              WHERE r.purpose IS NULL OR r.purpose = $1
              ORDER BY r.on_withdraw <> 'block', r.tbl::regclass::text, r.col",
            None,
            &[purpose.into()],
        )? {
            out.push((
                r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
                r.get::<String>(4)?,
            ));
        }
        Ok::<_, GdprError>(out)
    })?;
    rows.into_iter()
        .map(|(oid, col, on_withdraw, subject_kind)| {
            let table = introspect::table(oid)?;
            let col = introspect::column(&table, &col)?;
            Ok(Requirement {
                table,
                col,
                on_withdraw,
                subject_kind,
            })
        })
        .collect()
}

/// The primary keys (as text, key order) of the rows of `req` collected under consent `id`, read as the
/// table's owner once the caller is known to be allowed to read them itself.
fn dependent_rows(req: &Requirement, id: i64) -> Result<Vec<Vec<String>>> {
    require_privileges(
        &req.table,
        &[Privilege::Select],
        &format!("withdrawing consent {id}"),
    )?;
    let pk = introspect::primary_key(&req.table)?;
    let select = if pk.is_empty() {
        "t.ctid::text".to_string()
    } else {
        pk.iter()
            .map(|c| format!("t.{}::text", c.sql_name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!(
        "SELECT {select} FROM {} AS t WHERE t.{} = $1",
        req.table.sql_name, req.col.sql_name
    );
    // A read-write SPI call takes a new snapshot: rows committed while withdraw waited for the consent's lock
    // are seen.
    as_table_owner(&req.table, "finding the rows under a consent in", || {
        Spi::connect_mut(|client| {
            let mut out = Vec::new();
            for r in client.update(&sql, None, &[id.into()])? {
                check_for_interrupts!();
                let width = pk.len().max(1);
                let mut key = Vec::with_capacity(width);
                for i in 1..=width {
                    key.push(r.get::<String>(i)?.unwrap_or_default());
                }
                out.push(key);
            }
            Ok::<_, GdprError>(out)
        })
    })
}

/// Of the rows collected under a consent, those not erased yet: their subject has no erasure logged, or the row
/// no erasure marker of its key.
fn not_erased(req: &Requirement, rows: Vec<Vec<String>>) -> Result<Vec<Vec<String>>> {
    if rows.is_empty() {
        return Ok(rows);
    }
    let labels: Vec<String> = rows.iter().map(|k| subject_label(k)).collect();
    let done: HashSet<String> = match &req.subject_kind {
        Some(kind) => audit::erased_among(kind, &labels)?.into_iter().collect(),
        None => {
            let cols: Vec<String> = introspect::primary_key(&req.table)?
                .into_iter()
                .map(|c| c.name)
                .collect();
            let keys: Vec<String> = rows
                .iter()
                .map(|k| guard::marker_key(&k.iter().map(String::as_str).collect::<Vec<_>>()))
                .collect();
            let marked = guard::marked(req.table.oid, &cols, &keys)?;
            return Ok(rows
                .into_iter()
                .zip(keys)
                .filter(|(_, key)| !marked.contains(key))
                .map(|(row, _)| row)
                .collect());
        }
    };
    Ok(rows
        .into_iter()
        .zip(labels)
        .filter(|(_, label)| !done.contains(label))
        .map(|(row, _)| row)
        .collect())
}

/// Of the rows collected under consent `id`, those tied to a subject under legal hold: the held subject's own
/// row, or a row in a held subject's reach.
fn held_among(req: &Requirement, rows: &[Vec<String>], id: i64) -> Result<HashSet<Vec<String>>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    match &req.subject_kind {
        Some(kind) => {
            let labels: Vec<String> = rows.iter().map(|k| subject_label(k)).collect();
            let held: HashSet<String> = holds::active(kind, Some(&labels))?
                .into_iter()
                .map(|h| h.subject_id)
                .collect();
            Ok(rows
                .iter()
                .filter(|k| held.contains(&subject_label(k)))
                .cloned()
                .collect())
        }
        None => {
            let what = format!("withdrawing consent {id}");
            let held = Spi::connect_mut(|client| holds::held_rows(client, req.table.oid, &what))?;
            Ok(rows.iter().filter(|k| held.contains(*k)).cloned().collect())
        }
    }
}

/// Withdraws consent `id`: refuses while `block` rows depend on it, erases the rows collected under it where
/// the requirement says `anonymize`, keeps the rest — all in the caller's transaction.
pub fn withdraw(id: i64) -> Result<Value> {
    crate::privilege::require_primary(&format!("withdrawing consent {id}"))?;
    let (withdrawn_by, _) = caller()?;
    // FOR UPDATE waits for inserts that are checking this consent right now (they hold FOR SHARE), so the
    // rows they add are seen below; inserts that come later wait for this transaction and see the withdrawal.
    let consent = as_extension_owner(|| {
        Spi::connect_mut(|client| {
            let mut found = None;
            for r in client.update(
                "SELECT t.purpose, c.withdrawn_at::text
                   FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id = c.text_id
                  WHERE c.id = $1 FOR UPDATE OF c",
                None,
                &[id.into()],
            )? {
                found = Some((r.get::<String>(1)?.unwrap_or_default(), r.get::<String>(2)?));
            }
            Ok::<_, GdprError>(found)
        })
    })?;
    let (purpose, withdrawn_at) =
        consent.ok_or_else(|| GdprError::NoDataFound(format!("consent {id} does not exist")))?;
    let already_withdrawn = withdrawn_at.is_some();

    let requirements = requirements(&purpose)?;
    let mut dependents = Vec::with_capacity(requirements.len());
    for req in &requirements {
        let mut rows = dependent_rows(req, id)?;
        if already_withdrawn {
            // Withdrawing again finishes what the withdrawal left (rows a legal hold protected then).
            rows = if req.on_withdraw == "anonymize" {
                not_erased(req, rows)?
            } else {
                Vec::new()
            };
        } else if req.on_withdraw == "block" && !rows.is_empty() {
            return Err(GdprError::DependentObjects(format!(
                "consent {id} cannot be withdrawn: {} rows of {} depend on it through {} (on_withdraw => block)",
                rows.len(),
                req.table.display,
                req.col.name
            )));
        }
        dependents.push(rows);
    }

    if requirements.iter().any(|r| r.on_withdraw == "anonymize") {
        holds::block_new_holds()?;
    }
    let mut tables = Vec::new();
    for (req, rows) in requirements.iter().zip(dependents) {
        let mut erased_rows = 0u64;
        let mut held_rows = 0u64;
        if req.on_withdraw == "anonymize" {
            let held = held_among(req, &rows, id)?;
            held_rows = held.len() as u64;
            for key in rows.iter().filter(|k| !held.contains(*k)) {
                let report = match &req.subject_kind {
                    Some(kind) => erase::erase_as(
                        kind,
                        key.iter().cloned().map(Some).collect(),
                        erase::Options {
                            origin: erase::Origin::Consent,
                            on_hold: erase::OnHold::Skip,
                            ..erase::Options::request(false, false)
                        },
                    )?,
                    None => erase::erase_row(&req.table.display, req.table.oid, key.clone())?,
                };
                if report["held"].as_bool().unwrap_or(false) {
                    held_rows += 1; // its reach meets a held subject's rows
                }
                erased_rows += report["total_rows"].as_u64().unwrap_or(0);
            }
        }
        let mut entry = json!({
            "table": req.table.display,
            "column": req.col.name,
            "on_withdraw": req.on_withdraw,
            "rows": rows.len(),
            "erased_rows": erased_rows,
        });
        if held_rows > 0 {
            // Recorded as withdrawn all the same; these rows wait for the hold's release.
            entry["left_for_legal_hold"] = json!(held_rows);
        }
        if !(already_withdrawn && rows.is_empty()) {
            tables.push(entry);
        }
    }
    if let Some(at) = withdrawn_at {
        return Ok(
            json!({"consent_id": id, "purpose": purpose, "already_withdrawn": true,
                         "withdrawn_at": at, "tables": tables}),
        );
    }

    let withdrawn_at = as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<String>(
            "UPDATE gdpr.consent SET withdrawn_at = pg_catalog.clock_timestamp(), withdrawn_by = $2
              WHERE id = $1 RETURNING withdrawn_at::text",
            &[id.into(), withdrawn_by.as_str().into()],
        )?)
    })?;
    Ok(json!({
        "consent_id": id,
        "purpose": purpose,
        "withdrawn_at": withdrawn_at,
        "tables": tables,
    }))
}

/// The consents a subject gave (recorded for `kind`/`subject_id`) and the anonymous ones the subject's rows refer
/// to (`referenced`, e.g. a lead's consent_id, recorded before anyone knew who the visitor was), with the text
/// each was given for: what an export reports. A referenced consent recorded for someone else is not theirs.
pub fn of_subject(kind: &str, subject_id: &str, referenced: Vec<i64>) -> Result<Value> {
    as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'consent_id', c.id, 'purpose', t.purpose, 'version', t.version, 'language', t.language,
                        'text', t.body, 'privacy_policy_url', t.privacy_policy_url, 'source', c.source,
                        'granted_at', c.granted_at, 'withdrawn_at', c.withdrawn_at) ORDER BY c.id), '[]')
               FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id = c.text_id
              WHERE (c.subject_kind = $1 AND c.subject_id = $2) OR (c.id = ANY ($3) AND c.subject_kind IS NULL)",
            &[kind.into(), subject_id.into(), referenced.into()],
        )?
        .map_or(Value::Array(Vec::new()), |j| j.0))
    })
}

/// A ledger's times are text: each must be a timestamptz before a statement casts it.
pub fn check_time(consent_id: i64, what: &str, value: &str) -> Result<()> {
    let valid = Spi::get_one_with_args::<bool>(
        "SELECT gdpr._is_valid_input($1, 'pg_catalog.timestamptz'::pg_catalog.regtype)",
        &[value.into()],
    )?
    .unwrap_or(false);
    if valid {
        return Ok(());
    }
    Err(GdprError::InvalidParameter(format!(
        "the withdrawal of consent {consent_id}: {what} \"{value}\" is not a time"
    )))
}

/// Whether the consent with this id, text and grant time is in force (Some(true)), withdrawn (Some(false)), or
/// not here (None: granted after a restore, or another consent under a reused id). `granted_at` has passed
/// `check_time`.
pub fn in_force(consent_id: i64, text_id: i64, granted_at: &str) -> Result<Option<bool>> {
    as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<bool>(
            "SELECT (SELECT withdrawn_at IS NULL FROM gdpr.consent
                      WHERE id = $1 AND text_id = $2 AND granted_at = $3::timestamptz)",
            &[consent_id.into(), text_id.into(), granted_at.into()],
        )?)
    })
}
