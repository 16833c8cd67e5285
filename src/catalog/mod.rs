//! Declarations made by migrations (subjects, PII policies, erase actions, links, excluded references):
//! validated at once against the live catalog and stored in the extension's config tables.

pub mod declare;
pub mod introspect;
mod reference_rules;
pub mod retention;
pub mod traces;

use std::collections::HashMap;

use pgrx::prelude::*;

use crate::error::GdprError;
use crate::privilege::as_table_owner;
use crate::strategy::{self, Options};
use introspect::Table;

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

/// Checks that every policy of `table` still fits its column as the column is now (a later `ALTER COLUMN …
/// TYPE` can make `generalize` or `constant` meaningless): an erasure or pseudonymization never skips a column
/// quietly. The strategies' own checks run as the table's owner (a constant is cast to the column's type,
/// whose input function or domain CHECK is the owner's code).
pub fn check_policies_fit(table: &Table, policies: &[Policy]) -> crate::error::Result<()> {
    as_table_owner(table, "checking the policies of", || {
        for (col_name, strategy_name, options) in policies {
            let context = format!(
                "the policy {strategy_name} on {}.{col_name} no longer fits the column (declare it again with \
                 gdpr.declare_pii, or remove it with gdpr.undeclare_pii)",
                table.display
            );
            let col = introspect::column(table, col_name).map_err(|e| e.in_context(&context))?;
            strategy::validate(table, &col, strategy_name, options)
                .map_err(|e| e.in_context(&context))?;
        }
        Ok(())
    })
}

/// A 42704 error unless subject kind `kind` is declared.
pub fn require_kind_declared(kind: &str) -> crate::error::Result<()> {
    let declared = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM gdpr.subject WHERE kind = $1)",
        &[kind.into()],
    )?
    .unwrap_or(false);
    if !declared {
        return Err(GdprError::UndefinedObject(format!(
            "no subject kind \"{kind}\" is declared (see gdpr.declare_subject)"
        )));
    }
    Ok(())
}

/// Statement trigger on the config tables: backends drop cached erasure plans when declarations change.
#[pg_trigger]
fn _declarations_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    crate::cache::invalidate(trigger.relation()?.oid());
    Ok(None)
}
