//! Consent: versioned consent texts, consents granted and withdrawn, and the trigger that makes a table refuse
//! rows without a valid consent (`gdpr.require_consent`). Tables and views are in sql/consent.sql.

pub mod registry;
pub mod requirement;

use pgrx::prelude::*;
use pgrx::{JsonB, PgOid, PgRelation};

use crate::cache;
use crate::error::{GdprError, OrReport};
use crate::privilege::as_extension_owner;

fn required<T>(value: Option<T>, what: &str) -> T {
    value.unwrap_or_else(|| GdprError::NullValue(format!("{what} must not be NULL")).report())
}

/// The relation's oid, closing the relation pgrx opened for the argument: ALTER TABLE refuses a table this
/// backend still has open.
fn relation_oid(tbl: Option<PgRelation>) -> pg_sys::Oid {
    let rel = required(tbl, "tbl");
    let oid = rel.oid();
    drop(rel);
    oid
}

/// Records that a person agreed to consent text `text_id`; returns the consent's id, which the application
/// stores in the columns `gdpr.require_consent` guards.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn grant_consent(
    text_id: Option<i64>,
    source: Option<&str>,
    subject_kind: default!(Option<&str>, "NULL"),
    subject_id: default!(Option<&str>, "NULL"),
) -> i64 {
    registry::grant(
        required(text_id, "text_id"),
        required(source, "source"),
        subject_kind,
        subject_id,
    )
    .or_report()
}

/// Withdraws a consent, doing what each requirement's `on_withdraw` says to the rows collected under it.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn withdraw_consent(consent_id: Option<i64>) -> JsonB {
    JsonB(registry::withdraw(required(consent_id, "consent_id")).or_report())
}

/// Makes `tbl.col` a required, valid consent reference: a trigger refuses rows whose consent is missing,
/// unknown, withdrawn, for another purpose or for an inactive text, and a FOREIGN KEY keeps it referenced.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn require_consent(
    tbl: Option<PgRelation>,
    col: Option<&str>,
    purpose: default!(Option<&str>, "NULL"),
    on_withdraw: default!(Option<&str>, "'keep'"),
) {
    requirement::require(
        relation_oid(tbl),
        required(col, "col"),
        purpose,
        required(on_withdraw, "on_withdraw"),
    )
    .or_report()
}

#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn drop_consent_requirement(tbl: Option<PgRelation>, col: Option<&str>) {
    requirement::drop(relation_oid(tbl), required(col, "col")).or_report()
}

const INT8: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::INT8OID);

/// Locks the consent FOR SHARE: a withdrawal (FOR UPDATE) waits for this insert to commit and then sees its
/// row, or this insert waits for the withdrawal and sees it.
const CONSENT_SQL: &str = "SELECT t.purpose, t.active, c.withdrawn_at IS NOT NULL, t.id, t.version
                             FROM gdpr.consent c JOIN gdpr.consent_text t ON t.id = c.text_id
                            WHERE c.id = $1 FOR SHARE OF c";

struct ConsentState {
    purpose: String,
    active: bool,
    withdrawn: bool,
    text_id: i64,
    version: String,
}

fn consent_state(id: i64) -> crate::error::Result<Option<ConsentState>> {
    as_extension_owner(|| {
        Spi::connect_mut(|client| {
            let stmt = cache::statement(client, CONSENT_SQL, &[INT8])?;
            let mut found = None;
            for r in client.update(&*stmt, None, &[id.into()])? {
                found = Some(ConsentState {
                    purpose: r.get::<String>(1)?.unwrap_or_default(),
                    active: r.get::<bool>(2)?.unwrap_or(false),
                    withdrawn: r.get::<bool>(3)?.unwrap_or(true),
                    text_id: r.get::<i64>(4)?.unwrap_or_default(),
                    version: r.get::<String>(5)?.unwrap_or_default(),
                });
            }
            Ok(found)
        })
    })
}

fn check_consent(trigger: &PgTrigger<'_>) -> crate::error::Result<()> {
    let bad_trigger = |e: PgTriggerError| GdprError::InvalidDefinition(e.to_string());
    let args = trigger.extra_args().map_err(bad_trigger)?;
    let col = args.first().map(String::as_str).unwrap_or_default();
    let purpose = args.get(1).map(String::as_str).filter(|p| !p.is_empty());
    let place = || {
        format!(
            "{}.{}.{col}",
            trigger.table_schema().unwrap_or_default(),
            trigger.table_name().unwrap_or_default()
        )
    };
    let value_of = |tuple: &PgHeapTuple<'_, AllocatedByPostgres>| {
        tuple.get_by_name::<i64>(col).map_err(|e| {
            GdprError::InvalidDefinition(format!(
                "{}: the consent trigger cannot read its column ({e}); run gdpr.require_consent again",
                place()
            ))
        })
    };
    let new = trigger
        .new()
        .ok_or_else(|| GdprError::InvalidDefinition(format!("{}: not a row trigger", place())))?;
    let id = value_of(&new)?;
    if let Some(old) = trigger.old() {
        if value_of(&old)? == id && id.is_some() {
            return Ok(()); // an UPDATE that keeps the consent reference is not a new use of it
        }
    }
    let for_purpose = purpose
        .map(|p| format!(" for purpose {p}"))
        .unwrap_or_default();
    let Some(id) = id else {
        return Err(GdprError::NotNullViolation(format!(
            "{}: a consent{for_purpose} is required (NULL given)",
            place()
        )));
    };
    let Some(state) = consent_state(id)? else {
        return Err(GdprError::ForeignKeyViolation(format!(
            "{}: consent {id} does not exist",
            place()
        )));
    };
    if state.withdrawn {
        return Err(GdprError::CheckViolation(format!(
            "{}: consent {id} was withdrawn",
            place()
        )));
    }
    if let Some(p) = purpose.filter(|p| *p != state.purpose) {
        return Err(GdprError::CheckViolation(format!(
            "{}: consent {id} is for purpose {}, not {p}",
            place(),
            state.purpose
        )));
    }
    if !state.active {
        return Err(GdprError::CheckViolation(format!(
            "{}: consent {id} was given to consent text {} ({} version {}), which is no longer active",
            place(),
            state.text_id,
            state.purpose,
            state.version
        )));
    }
    Ok(())
}

/// BEFORE INSERT OR UPDATE OF col row trigger installed by `gdpr.require_consent`; args: column, purpose.
#[pg_trigger]
fn _require_consent<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    check_consent(trigger).or_report();
    Ok(trigger.new())
}
