//! How erasures treat references beyond following them: parents owned by the rows referencing them
//! (`gdpr.declare_owned`) and schema-wide exclusions by column name (`gdpr.exclude_column`).

use pgrx::prelude::*;
use pgrx::PgRelation;

use super::declare::{column_list, store};
use super::introspect::{self, Table};
use crate::error::{required, GdprError, OrReport, Result};
use crate::privilege::{is_extension_owner, is_owner};

/// The parent tables of the foreign keys and declared links of `child` by exactly `cols`.
fn referenced_tables(child: &Table, cols: &[String]) -> Result<Vec<pg_sys::Oid>> {
    Spi::connect(|client| {
        let mut parents = Vec::new();
        for r in client.select(
            "SELECT k.confrelid FROM pg_catalog.pg_constraint k
              WHERE k.contype = 'f' AND k.conrelid = $1 AND k.conparentid = 0
                AND ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(n, i)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                           ORDER BY u.i) = $2::text[]
             UNION
             SELECT l.parent::oid FROM gdpr.link l WHERE l.child = $1::regclass AND l.child_cols = $2::name[]",
            None,
            &[child.oid.into(), cols.to_vec().into()],
        )? {
            parents.extend(r.get::<pg_sys::Oid>(1)?);
        }
        Ok::<_, GdprError>(parents)
    })
}

/// Declaring a parent owned lets erasures delete or anonymize its rows: only its owner decides that.
fn require_parent_owner(parent: &Table, child: &Table, cols: &[String]) -> Result<()> {
    if is_owner(parent) || is_extension_owner()? {
        return Ok(());
    }
    Err(GdprError::InsufficientPrivilege(format!(
        "declare_owned: only the owner of {} may declare its rows owned by the rows of {}({}) that reference them \
         (erasures would then delete or anonymize them)",
        parent.display,
        child.display,
        cols.join(", ")
    )))
}

/// The child table and the names of its referencing columns, as `function` was given them.
fn child_reference(
    child: Option<PgRelation>,
    child_cols: Option<Vec<Option<String>>>,
    function: &str,
) -> Result<(Table, Vec<String>)> {
    let child = introspect::table(required(child, function, "child")?.oid())?;
    let cols = column_list(&child, child_cols, function, "child_cols")?
        .into_iter()
        .map(|c| c.name)
        .collect();
    Ok((child, cols))
}

fn declare_owned_impl(
    child: Option<PgRelation>,
    child_cols: Option<Vec<Option<String>>>,
) -> Result<()> {
    let (child, cols) = child_reference(child, child_cols, "declare_owned")?;
    let parents = referenced_tables(&child, &cols)?;
    if parents.is_empty() {
        return Err(GdprError::UndefinedObject(format!(
            "declare_owned: no foreign key or declared link on {}({}): declare the reference first",
            child.display,
            cols.join(", ")
        )));
    }
    for parent in &parents {
        require_parent_owner(&introspect::table(*parent)?, &child, &cols)?;
    }
    // The parents are stored with the declaration: a reference later re-pointed elsewhere is not owned.
    for parent in parents {
        store(
            "INSERT INTO gdpr.owned_reference (child, child_cols, parent)
             VALUES ($1::regclass, $2::name[], $3::regclass) ON CONFLICT DO NOTHING",
            vec![child.oid.into(), cols.clone().into(), parent.into()],
        )?;
    }
    Ok(())
}

/// The parents stored with `child`'s owned declaration by `cols`.
fn declared_parents(child: &Table, cols: &[String]) -> Result<Vec<pg_sys::Oid>> {
    Spi::connect(|client| {
        let mut parents = Vec::new();
        for r in client.select(
            "SELECT parent::oid FROM gdpr.owned_reference WHERE child = $1::regclass AND child_cols = $2::name[]",
            None,
            &[child.oid.into(), cols.to_vec().into()],
        )? {
            parents.extend(r.get::<pg_sys::Oid>(1)?);
        }
        Ok::<_, GdprError>(parents)
    })
}

fn undeclare_owned_impl(
    child: Option<PgRelation>,
    child_cols: Option<Vec<Option<String>>>,
) -> Result<()> {
    let (child, cols) = child_reference(child, child_cols, "undeclare_owned")?;
    for parent in declared_parents(&child, &cols)? {
        require_parent_owner(&introspect::table(parent)?, &child, &cols)?;
    }
    store(
        "DELETE FROM gdpr.owned_reference WHERE child = $1::regclass AND child_cols = $2::name[]",
        vec![child.oid.into(), cols.into()],
    )
}

/// The schema named `schema` (3F000 if there is none), which the caller must own: a rule binds every table of
/// the schema, those created later too.
fn schema_oid(schema: &str, function: &str) -> Result<pg_sys::Oid> {
    let row = Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = $1)",
        &[schema.into()],
    )?;
    let namespace = row.ok_or_else(|| {
        GdprError::UndefinedSchema(format!("{function}: schema \"{schema}\" does not exist"))
    })?;
    let owns_schema = Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.pg_has_role(n.nspowner, 'USAGE') FROM pg_catalog.pg_namespace n WHERE n.oid = $1",
        &[namespace.into()],
    )?
    .unwrap_or(false);
    if !owns_schema && !is_extension_owner()? {
        return Err(GdprError::InsufficientPrivilege(format!(
            "{function}: must be owner of schema {schema} to change the exclusion rules of all its tables"
        )));
    }
    Ok(namespace)
}

fn exclude_column_impl(
    schema: Option<&str>,
    col: Option<&str>,
    except_tables: Option<Vec<Option<pg_sys::Oid>>>,
) -> Result<()> {
    let schema = required(schema, "exclude_column", "schema")?;
    let col = required(col, "exclude_column", "col")?;
    if col.is_empty() {
        return Err(GdprError::InvalidParameter(
            "exclude_column: \"col\" must name a column".into(),
        ));
    }
    let namespace = schema_oid(schema, "exclude_column")?;
    let mut exceptions = Vec::new();
    for oid in except_tables.unwrap_or_default() {
        let table = introspect::table(required(oid, "exclude_column", "except_tables")?)?;
        let in_schema = Spi::get_one_with_args::<bool>(
            "SELECT relnamespace = $2 FROM pg_catalog.pg_class WHERE oid = $1",
            &[table.oid.into(), namespace.into()],
        )?
        .unwrap_or(false);
        if !in_schema {
            return Err(GdprError::InvalidParameter(format!(
                "exclude_column: {} is not a table of schema {schema}",
                table.display
            )));
        }
        exceptions.push(table.oid);
    }
    store(
        "INSERT INTO gdpr.excluded_column (schema_name, col, except_tables)
         VALUES ($1::oid::regnamespace, $2, $3::oid[]::regclass[])
         ON CONFLICT (schema_name, col) DO UPDATE SET except_tables = EXCLUDED.except_tables, declared_at = now()",
        vec![namespace.into(), col.into(), exceptions.into()],
    )
}

fn include_column_impl(schema: Option<&str>, col: Option<&str>) -> Result<()> {
    let schema = required(schema, "include_column", "schema")?;
    let col = required(col, "include_column", "col")?;
    let namespace = schema_oid(schema, "include_column")?;
    store(
        "DELETE FROM gdpr.excluded_column WHERE schema_name = $1::oid::regnamespace AND col = $2",
        vec![namespace.into(), col.into()],
    )
}

// --- SQL entry points ------------------------------------------------------------------------------------

/// The parent rows of `child`'s reference by `child_cols` belong to the rows referencing them: an erasure
/// takes a parent row (with the parent table's action) once no remaining row references it.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn declare_owned(child: Option<PgRelation>, child_cols: Option<Vec<Option<String>>>) {
    declare_owned_impl(child, child_cols).or_report()
}

#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn undeclare_owned(child: Option<PgRelation>, child_cols: Option<Vec<Option<String>>>) {
    undeclare_owned_impl(child, child_cols).or_report()
}

/// `gdpr.exclude_column(schema, col, except_tables regclass[])` (sql/api.sql): erasures follow no reference by a
/// column named `col` from the tables of `schema` (audit columns such as `created_by_id`), now or created later,
/// except from the tables listed.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn _exclude_column(
    schema: Option<&str>,
    col: Option<&str>,
    except_tables: Option<Vec<Option<pg_sys::Oid>>>,
) {
    exclude_column_impl(schema, col, except_tables).or_report()
}

/// Drops the rule `exclude_column` declared.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn include_column(schema: Option<&str>, col: Option<&str>) {
    include_column_impl(schema, col).or_report()
}
