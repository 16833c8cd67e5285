//! Declarations made by migrations (subjects, PII policies, erase actions, links, excluded references):
//! validated at once against the live catalog and stored in the extension's config tables.

pub mod declare;
pub mod introspect;

use pgrx::prelude::*;

/// Statement trigger on the config tables: backends drop cached erasure plans when declarations change.
#[pg_trigger]
fn _declarations_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    crate::subject::cache::invalidate(trigger.relation()?.oid());
    Ok(None)
}
