//! Data subjects: the reference graph, erasure plans and the erasure itself.

pub mod erase;
pub mod graph;
pub mod guard;
pub mod holds;
pub mod identifiers;
pub mod plan;
pub mod reach;
pub mod traces;

use pgrx::prelude::*;
use pgrx::JsonB;

use crate::cache;
use crate::error::{GdprError, OrReport};

fn dry_run_flag(dry_run: Option<bool>) -> bool {
    dry_run.unwrap_or_else(|| {
        GdprError::NullValue("dry_run must be true or false, not NULL".into()).report()
    })
}

fn traces_flag(traces: Option<bool>) -> bool {
    traces.unwrap_or_else(|| {
        GdprError::NullValue("traces must be true or false, not NULL".into()).report()
    })
}

fn kind_arg(kind: Option<&str>) -> &str {
    kind.unwrap_or_else(|| GdprError::NullValue("subject kind must not be NULL".into()).report())
}

/// Erases every row tied to the subject `kind`/`id` (see `gdpr.anonymize_guest`).
#[pg_extern(name = "anonymize_subject", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn anonymize_subject(
    kind: Option<&str>,
    id: Option<&str>,
    dry_run: default!(Option<bool>, false),
    traces: default!(Option<bool>, false),
) -> JsonB {
    JsonB(
        erase::erase(
            kind_arg(kind),
            vec![id.map(str::to_string)],
            dry_run_flag(dry_run),
            traces_flag(traces),
        )
        .or_report(),
    )
}

/// The same for subjects with a composite primary key: `id` lists the key values in key order.
#[pg_extern(name = "anonymize_subject", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn anonymize_subject_composite(
    kind: Option<&str>,
    id: Option<Vec<Option<String>>>,
    dry_run: default!(Option<bool>, false),
    traces: default!(Option<bool>, false),
) -> JsonB {
    JsonB(
        erase::erase(
            kind_arg(kind),
            id.unwrap_or_default(),
            dry_run_flag(dry_run),
            traces_flag(traces),
        )
        .or_report(),
    )
}

/// Erases many subjects of `kind` in one pass of the engine: one set of statements driven by all their keys,
/// one erasure id and log entry per subject.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn anonymize_subjects(
    kind: Option<&str>,
    ids: Option<Vec<Option<String>>>,
    dry_run: default!(Option<bool>, false),
) -> JsonB {
    let kind = kind_arg(kind);
    let ids: Vec<Vec<String>> = ids
        .unwrap_or_else(|| {
            GdprError::NullValue(format!("the {kind} ids to erase must not be NULL")).report()
        })
        .into_iter()
        .map(|id| {
            id.map(|v| vec![v]).unwrap_or_else(|| {
                GdprError::NullValue(format!("the {kind} ids to erase must not hold NULL")).report()
            })
        })
        .collect();
    let options = erase::Options::request(dry_run_flag(dry_run), false);
    JsonB(erase::erase_many(kind, ids, options).or_report())
}

/// The statements an erasure of `kind` prepares, with their parameter types: for review and EXPLAIN.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn erasure_statements(
    kind: &str,
) -> TableIterator<
    'static,
    (
        name!(table, String),
        name!(purpose, String),
        name!(statement, String),
        name!(parameter_types, Vec<String>),
    ),
> {
    let plan = cache::plan_for(kind).or_report();
    TableIterator::new(plan::statements(&plan))
}

/// Installs the erased-subject guard on every table reachable from a declared subject (idempotent).
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn guard_erased_subjects(
) -> TableIterator<'static, (name!(table_name, String), name!(installed_now, bool))> {
    TableIterator::new(guard::install().or_report())
}
