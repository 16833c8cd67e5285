//! A person's request: find them by what they gave, export everything held about them, locate the traces no
//! key links to them.

pub mod export;
pub mod find;
pub mod locate;

use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::OrReport;

/// Subjects of `kind` whose declared e-mail, phone, name or identifier matches what a person gave.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn find_subjects(
    kind: Option<&str>,
    email: default!(Option<&str>, "NULL"),
    phone: default!(Option<&str>, "NULL"),
    name: default!(Option<&str>, "NULL"),
    identifier: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(subject_id, String),
        name!(score, i32),
        name!(matches, JsonB),
    ),
> {
    let kind = crate::error::required(kind, "find_subjects", "kind").or_report();
    let given = find::Given {
        email,
        phone,
        name,
        identifier,
    };
    let found = find::find(kind, &given).or_report();
    TableIterator::new(
        found
            .into_iter()
            .map(|(id, score, matches)| (id, score, JsonB(matches))),
    )
}

fn subject_id(
    kind: Option<&str>,
    id: Option<Vec<Option<String>>>,
    function: &str,
) -> (String, Vec<String>) {
    let kind = crate::error::required(kind, function, "kind").or_report();
    let id = id
        .and_then(|v| v.into_iter().collect::<Option<Vec<String>>>())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            crate::error::GdprError::NullValue(format!(
                "{function}: the {kind} id must not be NULL"
            ))
            .report()
        });
    (kind.to_string(), id)
}

/// Everything held about subject `kind`/`id` as one JSON document (right of access and portability).
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn export_subject(kind: Option<&str>, id: Option<String>) -> JsonB {
    let (kind, id) = subject_id(kind, id.map(|i| vec![Some(i)]), "export_subject");
    JsonB(export::export(&kind, id).or_report())
}

/// The same for subjects with a composite key (`id` lists the key values in key order).
#[pg_extern(stable, name = "export_subject")]
#[search_path(pg_catalog, pg_temp)]
fn export_subject_composite(kind: Option<&str>, id: Option<Vec<Option<String>>>) -> JsonB {
    let (kind, id) = subject_id(kind, id, "export_subject");
    JsonB(export::export(&kind, id).or_report())
}

/// The subject's rows one by one: for `COPY (SELECT ...) TO STDOUT` and subjects with many rows.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn export_rows(
    kind: Option<&str>,
    id: Option<String>,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(path, String),
        name!(row, JsonB),
    ),
> {
    let (kind, id) = subject_id(kind, id.map(|i| vec![Some(i)]), "export_rows");
    let rows = export::export_rows(&kind, id).or_report();
    TableIterator::new(rows.into_iter().map(|(t, p, r)| (t, p, JsonB(r))))
}

/// The tables an erasure of `kind` reaches (what a support operator needs SELECT on to find and export).
#[pg_extern(stable, name = "_subject_tables")]
#[search_path(pg_catalog, pg_temp)]
fn subject_tables(kind: &str) -> SetOfIterator<'static, pg_sys::Oid> {
    let plan = crate::cache::plan_for(kind).or_report();
    SetOfIterator::new(plan.tables.iter().map(|t| t.table.oid).collect::<Vec<_>>())
}

/// The rows of declared trace columns that hold any of the subject's identifiers.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn locate(
    kind: Option<&str>,
    id: Option<String>,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(row_key, JsonB),
        name!(columns, Vec<String>),
        name!(categories, Vec<String>),
    ),
> {
    let (kind, id) = subject_id(kind, id.map(|i| vec![Some(i)]), "locate");
    let found = locate::locate(&kind, id).or_report();
    TableIterator::new(found.into_iter().map(|(t, k, c, g)| (t, JsonB(k), c, g)))
}

/// `export_rows` for subjects with a composite key (`id` lists the key values in key order).
#[pg_extern(stable, name = "export_rows")]
#[search_path(pg_catalog, pg_temp)]
fn export_rows_composite(
    kind: Option<&str>,
    id: Option<Vec<Option<String>>>,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(path, String),
        name!(row, JsonB),
    ),
> {
    let (kind, id) = subject_id(kind, id, "export_rows");
    let rows = export::export_rows(&kind, id).or_report();
    TableIterator::new(rows.into_iter().map(|(t, p, r)| (t, p, JsonB(r))))
}

/// `locate` for subjects with a composite key.
#[pg_extern(stable, name = "locate")]
#[search_path(pg_catalog, pg_temp)]
fn locate_composite(
    kind: Option<&str>,
    id: Option<Vec<Option<String>>>,
) -> TableIterator<
    'static,
    (
        name!(table_name, String),
        name!(row_key, JsonB),
        name!(columns, Vec<String>),
        name!(categories, Vec<String>),
    ),
> {
    let (kind, id) = subject_id(kind, id, "locate");
    let found = locate::locate(&kind, id).or_report();
    TableIterator::new(found.into_iter().map(|(t, k, c, g)| (t, JsonB(k), c, g)))
}
