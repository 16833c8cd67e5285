//! Consent: versioned consent texts, consents granted and withdrawn, and the trigger that makes a table refuse
//! rows without a valid consent (`gdpr.require_consent`). Tables and views are in sql/consent.sql.

mod lookup;
pub use lookup::ConsentTable;
pub mod registry;
pub mod requirement;

use std::collections::HashMap;
use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::{JsonB, PgRelation};

use crate::cache;
use crate::error::{required, GdprError, OrReport};
use crate::privilege::as_extension_owner;

/// The relation's oid, closing the relation pgrx opened for the argument: ALTER TABLE refuses a table this
/// backend still has open.
fn relation_oid(tbl: Option<PgRelation>, function: &str) -> pg_sys::Oid {
    let rel = required(tbl, function, "tbl").or_report();
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
    (|| {
        registry::grant(
            required(text_id, "grant_consent", "text_id")?,
            required(source, "grant_consent", "source")?,
            subject_kind,
            subject_id,
        )
    })()
    .or_report()
}

/// Withdraws a consent, doing what each requirement's `on_withdraw` says to the rows collected under it.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn withdraw_consent(consent_id: Option<i64>) -> JsonB {
    let id = required(consent_id, "withdraw_consent", "consent_id").or_report();
    JsonB(registry::withdraw(id).or_report())
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
    subject_col: default!(Option<&str>, "NULL"),
) {
    let oid = relation_oid(tbl, "require_consent");
    (|| {
        requirement::require(
            oid,
            required(col, "require_consent", "col")?,
            purpose,
            required(on_withdraw, "require_consent", "on_withdraw")?,
            subject_col,
        )
    })()
    .or_report()
}

#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn drop_consent_requirement(tbl: Option<PgRelation>, col: Option<&str>) {
    let oid = relation_oid(tbl, "drop_consent_requirement");
    (|| requirement::drop(oid, required(col, "drop_consent_requirement", "col")?))().or_report()
}

struct ConsentState {
    text: Rc<ConsentText>,
    withdrawn: bool,
    subject: Option<(String, String)>,
}

/// A consent text as the trigger needs it; all texts are cached per backend (see cache::consent_texts).
pub struct ConsentText {
    pub id: i64,
    pub purpose: String,
    pub version: String,
    pub active: bool,
}

/// Every consent text, read as the extension owner.
pub fn load_texts() -> crate::error::Result<HashMap<i64, Rc<ConsentText>>> {
    as_extension_owner(|| {
        Spi::connect(|client| {
            let mut out = HashMap::new();
            for r in client.select(
                "SELECT t.id, t.purpose, t.version, t.active FROM gdpr.consent_text t",
                None,
                &[],
            )? {
                let id = r.get::<i64>(1)?.unwrap_or_default();
                out.insert(
                    id,
                    Rc::new(ConsentText {
                        id,
                        purpose: r.get::<String>(2)?.unwrap_or_default(),
                        version: r.get::<String>(3)?.unwrap_or_default(),
                        active: r.get::<bool>(4)?.unwrap_or(false),
                    }),
                );
            }
            Ok(out)
        })
    })
}

/// gdpr.consent, its primary-key index and the columns the trigger reads.
fn consent_table() -> crate::error::Result<lookup::ConsentTable> {
    cache::consent_table(|| {
        let mut found = None;
        Spi::connect(|client| {
            for r in client.select(
                "SELECT i.indrelid, i.indexrelid,
                        (SELECT a.attnum::pg_catalog.int4 FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                            AND a.attname OPERATOR(pg_catalog.=) 'text_id'::pg_catalog.name),
                        (SELECT a.attnum::pg_catalog.int4 FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                            AND a.attname OPERATOR(pg_catalog.=) 'withdrawn_at'::pg_catalog.name),
                        (SELECT a.attnum::pg_catalog.int4 FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                            AND a.attname OPERATOR(pg_catalog.=) 'subject_kind'::pg_catalog.name),
                        (SELECT a.attnum::pg_catalog.int4 FROM pg_catalog.pg_attribute a
                          WHERE a.attrelid OPERATOR(pg_catalog.=) i.indrelid
                            AND a.attname OPERATOR(pg_catalog.=) 'subject_id'::pg_catalog.name)
                   FROM pg_catalog.pg_index i
                  WHERE i.indrelid OPERATOR(pg_catalog.=) 'gdpr.consent'::pg_catalog.regclass AND i.indisprimary",
                None,
                &[],
            )? {
                found = Some(lookup::ConsentTable {
                    table: r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                    pkey: r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
                    text_id: r.get::<i32>(3)?.unwrap_or(0),
                    withdrawn_at: r.get::<i32>(4)?.unwrap_or(0),
                    subject_kind: r.get::<i32>(5)?.unwrap_or(0),
                    subject_id: r.get::<i32>(6)?.unwrap_or(0),
                });
            }
            Ok::<_, GdprError>(())
        })?;
        found
            .filter(|t| {
                t.text_id > 0 && t.withdrawn_at > 0 && t.subject_kind > 0 && t.subject_id > 0
            })
            .ok_or_else(|| {
                GdprError::UndefinedObject(
                    "gdpr.consent is not as this version of pg_gdpr expects".into(),
                )
            })
    })
}

fn consent_state(id: i64, with_subject: bool) -> crate::error::Result<Option<ConsentState>> {
    let Some(found) = lookup::find_and_lock(consent_table()?, id, with_subject)? else {
        return Ok(None);
    };
    let text = cache::consent_text(found.text_id, load_texts)?.ok_or_else(|| {
        GdprError::UndefinedObject(format!(
            "consent text {} of consent {id} not found",
            found.text_id
        ))
    })?;
    Ok(Some(ConsentState {
        text,
        withdrawn: found.withdrawn,
        subject: found.subject,
    }))
}

/// Trigger argument `i` (the column, the purpose), read in place.
fn trigger_arg(trigger: &pg_sys::Trigger, i: usize) -> Option<&std::ffi::CStr> {
    if i >= usize::try_from(trigger.tgnargs).unwrap_or(0) {
        return None;
    }
    // SAFETY: tgargs holds tgnargs NUL-terminated strings owned by the trigger descriptor.
    unsafe { Some(std::ffi::CStr::from_ptr(*trigger.tgargs.add(i))) }
}

/// The bigint in column `col` of a row the trigger sees (None: NULL).
///
/// # Safety
/// `tuple` must be a valid tuple of the trigger's relation, described by `desc`.
unsafe fn bigint_column(
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    col: &std::ffi::CStr,
) -> Option<Option<i64>> {
    let attnum = pg_sys::SPI_fnumber(desc, col.as_ptr());
    if attnum <= 0 || pg_sys::SPI_gettypeid(desc, attnum) != pg_sys::INT8OID {
        return None;
    }
    let mut is_null = false;
    let value = pg_sys::SPI_getbinval(tuple, desc, attnum, &mut is_null);
    Some((!is_null).then(|| value.value() as i64))
}

fn check_consent(trigger: &PgTrigger<'_>) -> crate::error::Result<()> {
    // Runs for every written row: arguments and values are read in place, nothing is allocated on the way to
    // the lookup.
    let data = trigger.trigger_data();
    // SAFETY: PostgreSQL passes a valid trigger descriptor and relation for the call.
    let (tg, desc) = unsafe { (&*data.tg_trigger, (*data.tg_relation).rd_att) };
    let col_c = trigger_arg(tg, 0).unwrap_or_default();
    let col = col_c.to_str().unwrap_or_default();
    let purpose = trigger_arg(tg, 1)
        .and_then(|p| p.to_str().ok())
        .filter(|p| !p.is_empty());
    let place = || {
        format!(
            "{}.{}.{col}",
            trigger.table_schema().unwrap_or_default(),
            trigger.table_name().unwrap_or_default()
        )
    };
    let unreadable = || {
        GdprError::InvalidDefinition(format!(
            "{}: the consent trigger cannot read its bigint column; run gdpr.require_consent again",
            place()
        ))
    };
    // With a subject column (args 2 and 3): the consent must have been given by the row's subject.
    let subject = trigger_arg(tg, 2)
        .filter(|c| !c.is_empty())
        .zip(trigger_arg(tg, 3).and_then(|k| k.to_str().ok()));
    let is_update = matches!(trigger.op(), Ok(PgTriggerOperation::Update));
    let new_tuple = if is_update {
        data.tg_newtuple
    } else {
        data.tg_trigtuple
    };
    // SAFETY: the tuples come from this call's TriggerData.
    let id = unsafe { bigint_column(new_tuple, desc, col_c) }.ok_or_else(unreadable)?;
    // SAFETY: as above.
    let row_subject = match subject {
        Some((subject_col, _)) => unsafe { column_text(new_tuple, desc, subject_col) },
        None => None,
    };
    if is_update {
        // SAFETY: as above.
        let old =
            unsafe { bigint_column(data.tg_trigtuple, desc, col_c) }.ok_or_else(unreadable)?;
        let old_subject = match subject {
            // SAFETY: as above.
            Some((subject_col, _)) => unsafe { column_text(data.tg_trigtuple, desc, subject_col) },
            None => None,
        };
        if old == id && id.is_some() && old_subject == row_subject {
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
    let Some(state) = consent_state(id, subject.is_some())? else {
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
    let text = &state.text;
    if let Some(p) = purpose.filter(|p| *p != text.purpose) {
        return Err(GdprError::CheckViolation(format!(
            "{}: consent {id} is for purpose {}, not {p}",
            place(),
            text.purpose
        )));
    }
    if !text.active {
        return Err(GdprError::CheckViolation(format!(
            "{}: consent {id} was given to consent text {} ({} version {}), which is no longer active",
            place(),
            text.id,
            text.purpose,
            text.version
        )));
    }
    if let Some((_, kind)) = subject {
        // Whose consent it is stays unsaid: the writer learns only that it is not this row's subject's.
        let given_by = state
            .subject
            .as_ref()
            .map(|(k, i)| (k.as_str(), i.as_str()));
        if given_by != row_subject.as_deref().map(|r| (kind, r)) {
            return Err(GdprError::CheckViolation(format!(
                "{}: consent {id} was not given by {}",
                place(),
                row_subject.map_or_else(
                    || "an anonymous subject (the row has none)".to_string(),
                    |r| format!("{kind} {r} (the row's subject)")
                )
            )));
        }
    }
    Ok(())
}

/// The text form of column `name` of `tuple` (None: NULL or no such column).
///
/// # Safety
/// `tuple` must be a valid tuple described by `desc`.
unsafe fn column_text(
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    name: &std::ffi::CStr,
) -> Option<String> {
    let attnum = pg_sys::SPI_fnumber(desc, name.as_ptr());
    if attnum <= 0 {
        return None;
    }
    let value = pg_sys::SPI_getvalue(tuple, desc, attnum);
    if value.is_null() {
        return None;
    }
    let text = std::ffi::CStr::from_ptr(value)
        .to_string_lossy()
        .into_owned();
    pg_sys::pfree(value.cast());
    Some(text)
}

/// BEFORE INSERT OR UPDATE OF col row trigger installed by `gdpr.require_consent`; args: column, purpose and,
/// with a subject column, that column and the subject kind.
#[pg_trigger]
fn _require_consent<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    check_consent(trigger).or_report();
    Ok(trigger.new())
}
