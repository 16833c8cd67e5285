//! Declarations made by migrations (subjects, PII policies, erase actions, links, excluded references):
//! validated at once against the live catalog and stored in the extension's config tables.

pub mod declare;
pub mod introspect;

use std::collections::HashMap;

use pgrx::prelude::*;

use crate::error::GdprError;
use crate::strategy::Options;

/// A declared policy: column, strategy, options.
pub type Policy = (String, String, Options);

/// Every declared policy, per table, in column order.
pub fn policies() -> crate::error::Result<HashMap<pg_sys::Oid, Vec<Policy>>> {
    Spi::connect(|client| {
        let mut policies: HashMap<pg_sys::Oid, Vec<Policy>> = HashMap::new();
        for r in client.select(
            "SELECT tbl::oid, col::text, strategy, options FROM gdpr.pii_policy ORDER BY tbl, col",
            None,
            &[],
        )? {
            let oid = r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID);
            let options = match r.get::<pgrx::JsonB>(4)?.map(|j| j.0) {
                Some(serde_json::Value::Object(m)) => m,
                _ => Options::new(),
            };
            policies.entry(oid).or_default().push((
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
                options,
            ));
        }
        Ok::<_, GdprError>(policies)
    })
}

/// Statement trigger on the config tables: backends drop cached erasure plans when declarations change.
#[pg_trigger]
fn _declarations_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    crate::cache::invalidate(trigger.relation()?.oid());
    Ok(None)
}
