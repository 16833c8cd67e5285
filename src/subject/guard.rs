//! The erased-subject guard: once a subject is erased, a late write for it (a message from a chat window still
//! open, a retried API call) must not bring personal data back. Erasures record the keys of the erased rows
//! other rows point at in `gdpr.erased_row`; a BEFORE INSERT OR UPDATE trigger on every table reachable from a
//! subject refuses a row that points at one of them, or that is itself such a row.
//!
//! Race with an erasure in progress: the erasure locks the rows it finds top-down (subject first) and the ones
//! other rows reference FOR UPDATE (see plan.rs). The trigger first locks the referenced row FOR KEY SHARE —
//! as that table's owner, like a foreign-key check — and only then looks for a marker, in a new snapshot. So
//! an insert either commits first (the erasure waits for its lock, then finds and erases the new row) or waits
//! for the erasure and sees its markers. Writers take one row lock per reference, erasures lock parents before
//! children: the two never wait for each other in a cycle unless one transaction writes a subject's rows
//! bottom-up and then top-down, which PostgreSQL's deadlock detector resolves like any other.

use std::cell::Cell;
use std::ffi::{CStr, CString};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::PgOid;

use super::graph::{self, Reference};
use crate::cache;
use crate::catalog::introspect;
use crate::error::{GdprError, OrReport};
use crate::privilege::{as_extension_owner, as_role_naming, owner_context, require_table_owner};

pub const TRIGGER_NAME: &str = "gdpr_erased_guard";

const TEXT: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::TEXTOID);
const TEXT_ARRAY: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::TEXTARRAYOID);
const OID: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::OIDOID);
const OID_ARRAY: PgOid = PgOid::BuiltIn(pg_sys::BuiltinOid::OIDARRAYOID);

/// The erasure is found in gdpr.erased_row (erasure_id) and gdpr.erasure_log; the message stays free of it.
const MARKER_SQL: &str = "SELECT 1 FROM gdpr.erased_row
                           WHERE tbl = CAST($1 AS regclass) AND key = $3 AND cols = $2 LIMIT 1";

thread_local! {
    /// Set while the erasure engine or pseudonymize_table writes: their own updates are not late writes.
    static ENGINE_WRITING: Cell<u32> = const { Cell::new(0) };
}

/// Marks the engine's own writes for as long as it lives (also while unwinding from an error).
pub struct EngineWrites(());

impl Drop for EngineWrites {
    fn drop(&mut self) {
        ENGINE_WRITING.with(|c| c.set(c.get() - 1));
    }
}

pub fn engine_writes() -> EngineWrites {
    ENGINE_WRITING.with(|c| c.set(c.get() + 1));
    EngineWrites(())
}

/// The text form of erased-row keys, the same on both sides: a single column's text form, or a JSON array of
/// the text forms for several columns.
pub fn marker_key(values: &[&str]) -> String {
    match values {
        [one] => (*one).to_string(),
        _ => serde_json::to_string(values).unwrap_or_default(),
    }
}

/// Of `keys` (marker keys of rows of `table` by `cols`), those an erasure recorded.
pub fn marked(
    table: pg_sys::Oid,
    cols: &[String],
    keys: &[String],
) -> crate::error::Result<std::collections::HashSet<String>> {
    as_extension_owner(|| {
        Spi::connect(|client| {
            let mut out = std::collections::HashSet::new();
            for r in client.select(
                "SELECT key FROM gdpr.erased_row WHERE tbl = $1::regclass AND cols = $2::text[] AND key = ANY ($3)",
                None,
                &[table.into(), cols.to_vec().into(), keys.to_vec().into()],
            )? {
                out.extend(r.get::<String>(1)?);
            }
            Ok(out)
        })
    })
}

/// One thing to check in a written row: the values of `columns` must not be the key of an erased row of
/// `referenced` (its columns `referenced_cols`).
struct Check {
    referenced: pg_sys::Oid,
    referenced_display: String,
    referenced_cols: Vec<String>,
    columns: Vec<CString>,
    /// Polymorphic links: only rows whose `column` holds `value` point at `referenced`.
    discriminator: Option<(CString, String)>,
    /// `SELECT ... FOR KEY SHARE` of the referenced row, the role to run it as (the referenced table's
    /// owner) and the CONTEXT its errors get; None when the check is about the written row's own key.
    lock: Option<(String, pg_sys::Oid, String)>,
}

pub struct Guard {
    display: String,
    checks: Vec<Check>,
    watched: Vec<pg_sys::Oid>,
}

impl Guard {
    /// Tables whose DDL changes what the guard checks.
    pub fn watched(&self) -> Vec<pg_sys::Oid> {
        self.watched.clone()
    }
}

fn same_reference(a: &Reference, b: &Reference) -> bool {
    a.parent == b.parent
        && a.parent_cols == b.parent_cols
        && a.child_cols == b.child_cols
        && a.discriminator == b.discriminator
}

fn subject_tables() -> crate::error::Result<Vec<pg_sys::Oid>> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select("SELECT tbl::oid FROM gdpr.subject ORDER BY kind", None, &[])? {
            out.extend(r.get::<pg_sys::Oid>(1)?);
        }
        Ok::<_, GdprError>(out)
    })
}

/// Every table reachable from a declared subject (top-level tables: partitions are covered by their parent).
pub fn guarded_tables() -> crate::error::Result<Vec<pg_sys::Oid>> {
    let refs = graph::load_references()?;
    let mut out: Vec<pg_sys::Oid> = Vec::new();
    for root in subject_tables()? {
        for t in graph::reachable(root, refs.clone()).order {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    Ok(out)
}

/// What to check for writes to `relid` (a table or one of its partitions).
pub fn build(relid: pg_sys::Oid) -> crate::error::Result<Guard> {
    let top = Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT coalesce(pg_catalog.pg_partition_root($1), $1)",
        &[relid.into()],
    )?
    .unwrap_or(relid);
    let table = introspect::table(top)?;
    let refs = graph::load_references()?;
    let mut incoming: Vec<Reference> = Vec::new();
    let mut own: Vec<Vec<String>> = Vec::new();
    for root in subject_tables()? {
        let reach = graph::reachable(root, refs.clone());
        if !reach.order.contains(&top) {
            continue;
        }
        if root == top {
            let pk: Vec<String> = introspect::primary_key(&table)?
                .into_iter()
                .map(|c| c.name)
                .collect();
            if !pk.is_empty() && !own.contains(&pk) {
                own.push(pk);
            }
        }
        for r in reach.refs {
            if r.parent == top && !own.contains(&r.parent_cols) {
                own.push(r.parent_cols.clone());
            }
            if r.child == top && !incoming.iter().any(|i| same_reference(i, &r)) {
                incoming.push(r);
            }
        }
    }

    let cstring = |s: &str| {
        CString::new(s).map_err(|_| GdprError::InvalidParameter(format!("bad column name {s:?}")))
    };
    let mut checks = Vec::new();
    let mut watched = vec![top];
    for cols in own {
        checks.push(Check {
            referenced: top,
            referenced_display: table.display.clone(),
            referenced_cols: cols.clone(),
            columns: cols
                .iter()
                .map(|c| cstring(c))
                .collect::<crate::error::Result<_>>()?,
            discriminator: None,
            lock: None,
        });
    }
    for r in incoming {
        let parent = introspect::table(r.parent)?;
        let parent_cols = introspect::columns(&parent, &r.parent_cols)?;
        let predicate: Vec<String> = parent_cols
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "x.{} {} CAST(${} AS {})",
                    c.sql_name,
                    c.equals,
                    i + 1,
                    c.compare_type
                )
            })
            .collect();
        let lock_sql = format!(
            "SELECT 1 FROM {} AS x WHERE {} FOR KEY SHARE OF x",
            parent.sql_name,
            predicate.join(" AND ")
        );
        let (owner, context) = (
            parent.owner,
            owner_context(&parent, "locking a referenced row of"),
        );
        watched.push(r.parent);
        checks.push(Check {
            referenced: r.parent,
            referenced_display: parent.display,
            referenced_cols: r.parent_cols.clone(),
            columns: r
                .child_cols
                .iter()
                .map(|c| cstring(c))
                .collect::<crate::error::Result<_>>()?,
            discriminator: match &r.discriminator {
                Some((col, value)) => Some((cstring(col)?, value.clone())),
                None => None,
            },
            lock: Some((lock_sql, owner, context)),
        });
    }
    Ok(Guard {
        display: table.display,
        checks,
        watched,
    })
}

/// The text form of column `name` of the written row (None: NULL).
///
/// # Safety
/// `tuple` and `desc` must be the trigger's valid tuple and the relation's descriptor.
unsafe fn column_text(
    tuple: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    name: &CStr,
    table: &str,
) -> crate::error::Result<Option<String>> {
    let attnum = pg_sys::SPI_fnumber(desc, name.as_ptr());
    if attnum <= 0 {
        return Err(GdprError::UndefinedColumn(format!(
            "{table}: column \"{}\" the erased-subject guard checks no longer exists; run gdpr.guard_erased_subjects() again",
            name.to_string_lossy()
        )));
    }
    let value = pg_sys::SPI_getvalue(tuple, desc, attnum);
    if value.is_null() {
        return Ok(None);
    }
    let text = CStr::from_ptr(value).to_string_lossy().into_owned();
    pg_sys::pfree(value.cast());
    Ok(Some(text))
}

/// Refuses the row the trigger is about to write if it is, or points at, an erased row.
pub fn check_write(trigger: &PgTrigger<'_>) -> crate::error::Result<()> {
    if ENGINE_WRITING.with(Cell::get) > 0 {
        return Ok(());
    }
    let data = trigger.trigger_data();
    let relid = trigger
        .relid()
        .map_err(|e| GdprError::InvalidParameter(e.to_string()))?;
    let guard = cache::guard_for(relid)?;
    let is_update = matches!(trigger.op(), Ok(PgTriggerOperation::Update));
    let tuple = if is_update {
        data.tg_newtuple
    } else {
        data.tg_trigtuple
    };
    // SAFETY: the relation and tuple come from PostgreSQL's TriggerData for this call.
    let desc = unsafe { (*data.tg_relation).rd_att };
    for check in &guard.checks {
        if let Some((col, value)) = &check.discriminator {
            // SAFETY: as above.
            let found = unsafe { column_text(tuple, desc, col, &guard.display)? };
            if found.as_deref() != Some(value.as_str()) {
                continue;
            }
        }
        let mut values = Vec::with_capacity(check.columns.len());
        for col in &check.columns {
            // SAFETY: as above.
            match unsafe { column_text(tuple, desc, col, &guard.display)? } {
                Some(v) => values.push(v),
                None => break,
            }
        }
        if values.len() < check.columns.len() {
            continue; // a NULL reference points at nothing
        }
        if let Some((sql, owner, context)) = &check.lock {
            as_role_naming(*owner, context, || {
                Spi::connect_mut(|client| {
                    let stmt = cache::statement(client, sql, &vec![TEXT; values.len()])?;
                    let args: Vec<DatumWithOid<'_>> =
                        values.iter().map(|v| v.as_str().into()).collect();
                    client.update(&*stmt, None, &args)?;
                    Ok(())
                })
            })?;
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let key = marker_key(&refs);
        let erased = as_extension_owner(|| {
            Spi::connect_mut(|client| {
                let stmt = cache::statement(client, MARKER_SQL, &[OID, TEXT_ARRAY, TEXT])?;
                let args: Vec<DatumWithOid<'_>> = vec![
                    check.referenced.into(),
                    check.referenced_cols.clone().into(),
                    key.as_str().into(),
                ];
                Ok::<_, GdprError>(!client.update(&*stmt, None, &args)?.is_empty())
            })
        })?;
        if erased {
            let what = if check.lock.is_none() {
                format!(
                    "{}: the row with ({}) = ({}) was erased",
                    guard.display,
                    check.referenced_cols.join(", "),
                    values.join(", ")
                )
            } else {
                format!(
                    "{}: ({}) = ({}) refers to a row of {} that was erased",
                    guard.display,
                    check
                        .columns
                        .iter()
                        .map(|c| c.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(", "),
                    values.join(", "),
                    check.referenced_display
                )
            };
            return Err(GdprError::ObjectState(format!(
                "{what}; data for an erased subject is refused"
            )));
        }
    }
    Ok(())
}

/// The guard trigger's WHEN condition: false while the erasure engine or pseudonymize_table writes, so their
/// own updates do not even enter the trigger (a row trigger call costs more than the whole check it skips).
#[pg_extern(volatile, parallel_restricted)]
fn _guard_active() -> bool {
    ENGINE_WRITING.with(Cell::get) == 0
}

/// BEFORE INSERT OR UPDATE row trigger installed by `gdpr.guard_erased_subjects()`.
#[pg_trigger]
fn _refuse_erased<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    check_write(trigger).or_report();
    Ok(trigger.new())
}

/// Installs the guard trigger on every table reachable from a declared subject (idempotent). Returns each
/// table and whether the trigger was added now. The caller must own the tables.
pub fn install() -> crate::error::Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for oid in guarded_tables()? {
        let table = introspect::table(oid)?;
        let installed = introspect::trigger(oid, TRIGGER_NAME)?;
        let (present, current) = (installed.is_some(), installed == Some(true));
        if !current {
            require_table_owner(&table)?;
            if present {
                // Installed by an earlier version (without the WHEN condition): replace it.
                Spi::run(&format!(
                    "DROP TRIGGER {TRIGGER_NAME} ON {}",
                    table.sql_name
                ))?;
            }
            Spi::run(&format!(
                "CREATE TRIGGER {TRIGGER_NAME} BEFORE INSERT OR UPDATE ON {} \
                 FOR EACH ROW WHEN (gdpr._guard_active()) EXECUTE FUNCTION gdpr._refuse_erased()",
                table.sql_name
            ))?;
        }
        out.push((table.display, !current));
    }
    Ok(out)
}

/// The guard trigger of `table`: None when absent, else whether it fires (not `DISABLE`d, nor replica-only).
pub fn trigger_enabled(table: pg_sys::Oid) -> crate::error::Result<Option<bool>> {
    Ok(Spi::get_one_with_args::<bool>(
        "SELECT (SELECT t.tgenabled IN ('O', 'A') FROM pg_catalog.pg_trigger t
                  WHERE t.tgrelid = $1 AND t.tgname = $2 AND t.tgparentid = 0)",
        &[table.into(), TRIGGER_NAME.into()],
    )?)
}

/// `{"a","b"}`: the text form of a text[] holding `items`.
fn text_array_literal(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|i| format!("\"{}\"", i.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// Records the keys of the erased rows that other rows reference (and the subject's own), for the guard: one
/// statement for all tables.
pub fn record(markers: Vec<Markers>) -> crate::error::Result<()> {
    if markers.is_empty() {
        return Ok(());
    }
    let (mut ids, mut tables, mut cols, mut keys) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for m in markers {
        // Column lists travel as text[] literals (arrays of arrays must be rectangular in SQL).
        let columns = text_array_literal(&m.cols);
        for key in m.keys {
            ids.push(m.erasure_id.clone());
            tables.push(m.table);
            cols.push(columns.clone());
            keys.push(key);
        }
    }
    as_extension_owner(|| {
        Spi::connect_mut(|client| {
            let stmt = cache::statement(
                client,
                "INSERT INTO gdpr.erased_row (tbl, cols, key, erasure_id)
                 SELECT CAST(m.tbl AS regclass), CAST(m.cols AS text[]), m.key, CAST(m.erasure_id AS uuid)
                   FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),
                                   pg_catalog.unnest($4)) AS m(tbl, cols, key, erasure_id)",
                &[OID_ARRAY, TEXT_ARRAY, TEXT_ARRAY, TEXT_ARRAY],
            )?;
            let args: Vec<DatumWithOid<'_>> =
                vec![tables.into(), cols.into(), keys.into(), ids.into()];
            client.update(&*stmt, None, &args)?;
            Ok(())
        })
    })
}

/// Keys of erased rows of one table, by one column set, erased by one erasure.
pub struct Markers {
    pub erasure_id: String,
    pub table: pg_sys::Oid,
    pub cols: Vec<String>,
    pub keys: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_keys_and_column_lists() {
        assert_eq!(marker_key(&["42"]), "42");
        assert_eq!(marker_key(&["a", "b,\"c"]), r#"["a","b,\"c"]"#);
        assert_eq!(
            text_array_literal(&["id".into(), r#"we"ird\col"#.into()]),
            r#"{"id","we\"ird\\col"}"#
        );
    }
}
