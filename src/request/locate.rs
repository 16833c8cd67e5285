//! `gdpr.locate`: the rows of declared trace columns that hold any of a subject's identifiers — the same
//! identifiers an erasure's `scrub` uses, collected from the same reach.

use pgrx::prelude::*;
use serde_json::Value;

use crate::cache;
use crate::error::{GdprError, Result};
use crate::subject::erase::require_entitlement;
use crate::subject::identifiers::subject_identifiers;
use crate::subject::reach::{
    check_key_length, check_key_values, find_rows, subject_label, Purpose,
};
use crate::subject::traces;

/// (table, row key, columns, categories) of every trace row holding the subject's identifiers.
pub type Trace = (String, Value, Vec<String>, Vec<String>);

pub fn locate(kind: &str, id: Vec<String>) -> Result<Vec<Trace>> {
    crate::privilege::require_primary(&format!("locating a {kind}'s traces"))?;
    let plan = cache::plan_for(kind)?;
    check_key_length(&plan, &id)?;
    let tables = traces::declared()?;
    traces::require_declared(&tables)?;
    let what = format!("locating traces of {kind} {}", subject_label(&id));
    // Reading the subject's rows as a dry run does, then every trace table.
    require_entitlement(&plan, true, &what)?;
    traces::require_entitlement(&tables, false, &what)?;
    let id = check_key_values(&plan, &id)?;
    let found = Spi::connect_mut(|client| {
        let (reach, _) = find_rows(client, &plan, std::slice::from_ref(&id), Purpose::Read)?;
        if reach[0].rows.is_empty() {
            return Err(GdprError::NoDataFound(format!(
                "{kind} {} not found in {}",
                subject_label(&id),
                plan.tables[0].table.display
            )));
        }
        let ids = subject_identifiers(client, &plan, &reach)?;
        traces::search(client, tables, &ids.reached)
    })?;
    Ok(found
        .located
        .into_iter()
        .map(|l| {
            (
                found.tables[l.trace].table.display.clone(),
                l.row_key,
                l.columns,
                l.categories.into_iter().map(str::to_string).collect(),
            )
        })
        .collect())
}
