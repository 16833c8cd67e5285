//! `gdpr.declare_*`: idempotent, validated declarations. Any error rolls the calling migration back.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::{JsonB, PgRelation};

use super::introspect::{self, Column, Table};
use crate::error::{required, GdprError, OrReport, Result};
use crate::privilege::{
    as_extension_owner, as_table_owner, has_column_privilege, is_extension_owner, is_owner,
    require_table_owner, Privilege,
};
use crate::strategy;

/// A table the caller owns, or an error naming it.
pub(super) fn owned_table(rel: Option<PgRelation>, function: &str, arg: &str) -> Result<Table> {
    let oid = required(rel, function, arg)?.oid();
    let table = introspect::table(oid)?;
    require_table_owner(&table)?;
    Ok(table)
}

/// Writes one of the extension's config tables (as the extension owner).
pub(super) fn store(sql: &str, args: Vec<DatumWithOid<'_>>) -> Result<()> {
    as_extension_owner(|| {
        Spi::connect_mut(|client| client.update(sql, None, &args).map(|_| ()))?;
        Ok(())
    })
}

fn declare_subject_impl(kind: Option<&str>, tbl: Option<PgRelation>) -> Result<()> {
    let kind = required(kind, "declare_subject", "kind")?;
    let valid_kind = !kind.is_empty()
        && kind
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_kind {
        return Err(GdprError::InvalidParameter(format!(
            "subject kind \"{kind}\" must be a lower-case identifier such as guest or session"
        )));
    }
    let table = owned_table(tbl, "declare_subject", "tbl")?;
    if introspect::primary_key(&table)?.is_empty() {
        return Err(GdprError::InvalidDefinition(format!(
            "subject table {} has no primary key: its key identifies the data subject",
            table.display
        )));
    }
    require_kind_owner(kind, Some(table.oid))?;
    store(
        "INSERT INTO gdpr.subject (kind, tbl) VALUES ($1, $2::regclass)
         ON CONFLICT (kind) DO UPDATE SET tbl = EXCLUDED.tbl, declared_at = now()",
        vec![kind.into(), table.oid.into()],
    )
}

/// A subject kind belongs to the owner of its table: only that owner (or the extension owner) may re-point it
/// to another table or drop it — otherwise any table owner could make `anonymize_guest(42)` erase a decoy.
/// `new_table` is None when the kind is being dropped.
fn require_kind_owner(kind: &str, new_table: Option<pg_sys::Oid>) -> Result<()> {
    let current = Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT (SELECT tbl::oid FROM gdpr.subject WHERE kind = $1)",
        &[kind.into()],
    )?;
    let Some(current) = current.filter(|c| Some(*c) != new_table) else {
        return Ok(()); // a new kind, or the same declaration again
    };
    // A hold names a subject of this kind: re-pointing or dropping the kind would make it hold nothing.
    let holds = as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<i64>(
            "SELECT count(*) FROM gdpr.legal_hold WHERE kind = $1 AND released_at IS NULL",
            &[kind.into()],
        )?
        .unwrap_or(0))
    })?;
    if holds > 0 {
        return Err(GdprError::ObjectState(format!(
            "subject kind \"{kind}\" has {holds} active legal hold(s): release them before you {} the kind",
            if new_table.is_some() { "re-point" } else { "drop" }
        )));
    }
    let table = introspect::table(current)?;
    if is_owner(&table) || is_extension_owner()? {
        return Ok(());
    }
    Err(GdprError::InsufficientPrivilege(format!(
        "subject kind \"{kind}\" is declared on {} and belongs to its owner: only that owner or the extension \
         owner may {} it",
        table.display,
        if new_table.is_some() { "re-point" } else { "drop" }
    )))
}

fn undeclare_subject_impl(kind: Option<&str>) -> Result<()> {
    let kind = required(kind, "undeclare_subject", "kind")?;
    super::require_kind_declared(kind)?;
    require_kind_owner(kind, None)?;
    store(
        "DELETE FROM gdpr.subject WHERE kind = $1",
        vec![kind.into()],
    )
}

/// Columns that identify rows (primary key, referenced by a foreign key or a declared link) must stay intact.
fn refuse_key_column(table: &Table, col: &Column) -> Result<()> {
    if col.in_primary_key {
        return Err(GdprError::InvalidParameter(format!(
            "{}.{} is part of the primary key; rows must stay identifiable (declare policies on data columns)",
            table.display, col.name
        )));
    }
    let referenced = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = ANY (k.confkey)
                         WHERE k.contype = 'f' AND k.confrelid = $1 AND a.attname = $2)
             OR EXISTS (SELECT 1 FROM gdpr.link l WHERE l.parent = $1::regclass AND $2 = ANY (l.parent_cols))",
        &[table.oid.into(), col.name.clone().into()],
    )?
    .unwrap_or(false);
    if referenced {
        return Err(GdprError::InvalidParameter(format!(
            "{}.{} is referenced by a foreign key or declared link; changing it would detach other rows",
            table.display, col.name
        )));
    }
    Ok(())
}

fn declare_pii_impl(
    tbl: Option<PgRelation>,
    col: Option<&str>,
    strategy_name: Option<&str>,
    options: Option<JsonB>,
) -> Result<()> {
    let table = owned_table(tbl, "declare_pii", "tbl")?;
    let col = introspect::column(&table, required(col, "declare_pii", "col")?)?;
    let strategy_name = required(strategy_name, "declare_pii", "strategy")?;
    let options = match options.map(|j| j.0) {
        None | Some(serde_json::Value::Null) => strategy::Options::new(),
        Some(serde_json::Value::Object(map)) => map,
        Some(other) => {
            return Err(GdprError::InvalidParameter(format!(
                "options for {}.{} must be a jsonb object, got {other}",
                table.display, col.name
            )))
        }
    };
    if strategy_name != "keep" {
        refuse_key_column(&table, &col)?;
    }
    // The strategy's checks cast values to the column's type: the owner's code (a domain), run as the owner.
    as_table_owner(&table, "validating a policy for", || {
        strategy::validate(&table, &col, strategy_name, &options)
    })?;
    let category = strategy::category::of_policy(&table.display, &col, strategy_name, &options)?;
    store(
        "INSERT INTO gdpr.pii_policy (tbl, col, strategy, options, category) VALUES ($1::regclass, $2, $3, $4, $5)
         ON CONFLICT (tbl, col) DO UPDATE
            SET strategy = EXCLUDED.strategy, options = EXCLUDED.options, category = EXCLUDED.category,
                declared_at = now()",
        vec![
            table.oid.into(),
            col.name.clone().into(),
            strategy_name.into(),
            JsonB(serde_json::Value::Object(options)).into(),
            category.into(),
        ],
    )
}

fn undeclare_pii_impl(tbl: Option<PgRelation>, col: Option<&str>) -> Result<()> {
    let table = owned_table(tbl, "undeclare_pii", "tbl")?;
    let col = required(col, "undeclare_pii", "col")?;
    store(
        "DELETE FROM gdpr.pii_policy WHERE tbl = $1::regclass AND col = $2",
        vec![table.oid.into(), col.into()],
    )
}

fn declare_erase_action_impl(tbl: Option<PgRelation>, action: Option<&str>) -> Result<()> {
    let table = owned_table(tbl, "declare_erase_action", "tbl")?;
    let action = required(action, "declare_erase_action", "action")?;
    if action != "anonymize" && action != "delete" {
        return Err(GdprError::InvalidParameter(format!(
            "erase action \"{action}\" for {} is not one of: anonymize, delete",
            table.display
        )));
    }
    store(
        "INSERT INTO gdpr.erase_action (tbl, action) VALUES ($1::regclass, $2)
         ON CONFLICT (tbl) DO UPDATE SET action = EXCLUDED.action, declared_at = now()",
        vec![table.oid.into(), action.into()],
    )
}

pub(super) fn column_list(
    table: &Table,
    cols: Option<Vec<Option<String>>>,
    function: &str,
    arg: &str,
) -> Result<Vec<Column>> {
    let cols = required(cols, function, arg)?;
    if cols.is_empty() {
        return Err(GdprError::InvalidParameter(format!(
            "{function}: \"{arg}\" must name at least one column"
        )));
    }
    cols.into_iter()
        .map(|c| {
            let name = required(c, function, arg)?;
            introspect::column(table, &name)
        })
        .collect()
}

/// A link binds the parent's owner as a FOREIGN KEY would: the declarer needs REFERENCES on the parent (or
/// owns it), and the parent columns must be its primary key or a unique key — a link onto other columns
/// (an e-mail) would have erasures record their values and could not identify one parent row.
fn require_link_target(parent: &Table, parent_cols: &[Column]) -> Result<()> {
    let attnums: Vec<i16> = parent_cols.iter().map(|c| c.attnum).collect();
    if !is_owner(parent) && !has_column_privilege(parent.oid, &attnums, Privilege::References) {
        return Err(GdprError::InsufficientPrivilege(format!(
            "permission denied for table {}: declaring a link to ({}) needs REFERENCES on those columns (as a \
             FOREIGN KEY would)",
            parent.display,
            names(parent_cols).join(", ")
        )));
    }
    if !introspect::is_unique_key(parent, &names(parent_cols))? {
        return Err(GdprError::InvalidForeignKey(format!(
            "{}({}) is not the primary key or a unique key of {}: a link must identify one parent row",
            parent.display,
            names(parent_cols).join(", "),
            parent.display
        )));
    }
    Ok(())
}

fn names(cols: &[Column]) -> Vec<String> {
    cols.iter().map(|c| c.name.clone()).collect()
}

#[allow(clippy::too_many_arguments)]
fn declare_link_impl(
    child: Option<PgRelation>,
    child_cols: Option<Vec<Option<String>>>,
    parent: Option<PgRelation>,
    parent_cols: Option<Vec<Option<String>>>,
    type_col: Option<&str>,
    type_value: Option<&str>,
) -> Result<()> {
    let child = owned_table(child, "declare_link", "child")?;
    let parent = introspect::table(required(parent, "declare_link", "parent")?.oid())?;
    let child_cols = column_list(&child, child_cols, "declare_link", "child_cols")?;
    let parent_cols = column_list(&parent, parent_cols, "declare_link", "parent_cols")?;
    if child_cols.len() != parent_cols.len() {
        return Err(GdprError::InvalidParameter(format!(
            "link from {} ({} columns) to {} ({} columns) must pair the same number of columns",
            child.display,
            child_cols.len(),
            parent.display,
            parent_cols.len()
        )));
    }
    require_link_target(&parent, &parent_cols)?;
    let type_col = match (type_col, type_value) {
        (None, None) => None,
        (Some(c), Some(_)) => Some(introspect::column(&child, c)?.name),
        _ => {
            return Err(GdprError::InvalidParameter(format!(
                "link from {} to {}: type_col and type_value go together",
                child.display, parent.display
            )))
        }
    };
    store(
        "INSERT INTO gdpr.link (child, child_cols, parent, parent_cols, type_col, type_value)
         VALUES ($1::regclass, $2::name[], $3::regclass, $4::name[], $5, $6)
         ON CONFLICT (child, child_cols, parent, parent_cols, coalesce(type_col, ''), coalesce(type_value, ''))
         DO NOTHING",
        vec![
            child.oid.into(),
            names(&child_cols).into(),
            parent.oid.into(),
            names(&parent_cols).into(),
            type_col.into(),
            type_value.map(str::to_string).into(),
        ],
    )
}

fn exclude_reference_impl(
    child: Option<PgRelation>,
    child_cols: Option<Vec<Option<String>>>,
) -> Result<()> {
    let child = owned_table(child, "exclude_reference", "child")?;
    let cols = names(&column_list(
        &child,
        child_cols,
        "exclude_reference",
        "child_cols",
    )?);
    let exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k
                         WHERE k.contype = 'f' AND k.conrelid = $1 AND k.conparentid = 0
                           AND ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(n, i)
                                       JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                                      ORDER BY u.i) = $2::text[])
             OR EXISTS (SELECT 1 FROM gdpr.link l WHERE l.child = $1::regclass AND l.child_cols = $2::name[])",
        &[child.oid.into(), cols.clone().into()],
    )?
    .unwrap_or(false);
    if !exists {
        return Err(GdprError::UndefinedObject(format!(
            "no foreign key or declared link on {}({}) to exclude",
            child.display,
            cols.join(", ")
        )));
    }
    store(
        "INSERT INTO gdpr.excluded_reference (child, child_cols) VALUES ($1::regclass, $2::name[])
         ON CONFLICT DO NOTHING",
        vec![child.oid.into(), cols.into()],
    )
}

// --- SQL entry points ------------------------------------------------------------------------------------

/// Declares the table whose primary key identifies a kind of data subject.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn declare_subject(kind: Option<&str>, tbl: Option<PgRelation>) {
    declare_subject_impl(kind, tbl).or_report()
}

/// Drops a subject kind (only its table's owner or the extension owner may).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn undeclare_subject(kind: Option<&str>) {
    undeclare_subject_impl(kind).or_report()
}

/// Declares how a column's personal data is neutralised.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn declare_pii(
    tbl: Option<PgRelation>,
    col: Option<&str>,
    strategy: Option<&str>,
    options: default!(Option<JsonB>, "'{}'"),
) {
    declare_pii_impl(tbl, col, strategy, options).or_report()
}

/// Removes a column's policy (the column then shows up in coverage reports again).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn undeclare_pii(tbl: Option<PgRelation>, col: Option<&str>) {
    undeclare_pii_impl(tbl, col).or_report()
}

/// `anonymize` (default) or `delete` the rows of a table tied to an erased subject.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn declare_erase_action(tbl: Option<PgRelation>, action: Option<&str>) {
    declare_erase_action_impl(tbl, action).or_report()
}

/// A reference the schema has no FOREIGN KEY for, optionally polymorphic (`type_col = type_value`).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn declare_link(
    child: Option<PgRelation>,
    child_cols: Option<Vec<Option<String>>>,
    parent: Option<PgRelation>,
    parent_cols: Option<Vec<Option<String>>>,
    type_col: default!(Option<&str>, "NULL"),
    type_value: default!(Option<&str>, "NULL"),
) {
    declare_link_impl(child, child_cols, parent, parent_cols, type_col, type_value).or_report()
}

/// A FOREIGN KEY (or link) that does not mean "belongs to the person": erasures do not follow it.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn exclude_reference(child: Option<PgRelation>, child_cols: Option<Vec<Option<String>>>) {
    exclude_reference_impl(child, child_cols).or_report()
}
