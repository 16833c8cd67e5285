//! A retention declaration made ready for a run: its erasure plan and the statements that find its expired rows,
//! each run as the table's owner.

use std::collections::HashSet;
use std::rc::Rc;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::cache;
use crate::catalog::retention::{Retention, RetentionAction};
use crate::error::{GdprError, Result};
use crate::privilege::as_extension_owner;
use crate::subject::guard;
use crate::subject::plan::{Action, ErasurePlan, TEXT, TEXT_ARRAY};
use crate::subject::reach::fetch;

pub const INT4: pgrx::PgOid = pgrx::PgOid::BuiltIn(pg_sys::BuiltinOid::INT4OID);

pub struct Rule {
    pub retention: Retention,
    pub plan: Rc<ErasurePlan>,
}

/// How expired rows are counted and whether the expired rows can already be done (anonymized rows stay old).
pub struct Counts {
    pub expired: i64,
    pub oldest: Option<String>,
    pub done_before: i64,
    pub held: i64,
}

impl Counts {
    pub fn due(&self) -> i64 {
        (self.expired - self.done_before - self.held).max(0)
    }
}

impl Rule {
    pub fn new(retention: Retention) -> Result<Rule> {
        let plan = match (&retention.kind, retention.action) {
            (Some(kind), RetentionAction::Erase) => cache::plan_for(kind)?,
            (_, action) => cache::plan_for_table(
                &retention.table.display,
                retention.table.oid,
                Some(if action == RetentionAction::Anonymize {
                    Action::Anonymize
                } else {
                    Action::Delete
                }),
            )?,
        };
        Ok(Rule { retention, plan })
    }

    fn key_names(&self) -> Vec<String> {
        self.retention.key.iter().map(|c| c.name.clone()).collect()
    }

    /// Whether a processed row stays in the table (anonymized, or a subject whose row is kept): such rows
    /// are recognised by the erased-subject guard's marker of their key, recorded by the erasure.
    pub fn rows_stay(&self) -> bool {
        self.plan.tables[0].action == Action::Anonymize
    }

    /// `$1`: the cutoff. Counts the expired rows and finds the oldest.
    fn stats_sql(&self) -> String {
        let r = &self.retention;
        format!(
            "SELECT count(*)::text, min(t.{tc})::timestamptz::text FROM {} AS t WHERE t.{tc} < CAST($1 AS timestamptz)",
            r.table.sql_name,
            tc = r.time_col.sql_name
        )
    }

    /// Counts the expired rows among given keys (`$1..`: one `text[]` per key column, then the cutoff).
    fn count_keys_sql(&self) -> String {
        let t = &self.plan.tables[0];
        format!(
            "SELECT count(*)::text FROM {} AS t WHERE {} AND t.{} < CAST(${} AS timestamptz)",
            t.table.sql_name,
            t.identity_predicate,
            self.retention.time_col.sql_name,
            t.identity_params + 1
        )
    }

    /// The next batch of expired rows after a position, oldest first, locked; rows another transaction holds
    /// are skipped (taken by a later run). `$1` cutoff, `$2` the position (time, then key values) or NULL,
    /// `$3` the batch size. Returns the key values, then the time value.
    pub fn batch_sql(&self) -> String {
        let r = &self.retention;
        let tc = &r.time_col;
        let mut order = vec![(format!("t.{}", tc.sql_name), tc)];
        order.extend(r.key.iter().map(|c| (format!("t.{}", c.sql_name), c)));
        // (a, b, c) > ($2[1], $2[2], $2[3]) spelled out with each type's own operators.
        let mut after = String::new();
        for (i, (expr, col)) in order.iter().enumerate().rev() {
            let value = format!("CAST(($2::text[])[{}] AS {})", i + 1, col.compare_type);
            let greater = operator(&col.equals, ">");
            after = if after.is_empty() {
                format!("{expr} {greater} {value}")
            } else {
                format!(
                    "({expr} {greater} {value} OR ({expr} {} {value} AND {after}))",
                    col.equals
                )
            };
        }
        let keys: Vec<String> = r
            .key
            .iter()
            .map(|c| format!("t.{}::text", c.sql_name))
            .collect();
        let order_by: Vec<&str> = order.iter().map(|(e, _)| e.as_str()).collect();
        format!(
            "SELECT {}, t.{tc}::text FROM {} AS t
              WHERE t.{tc} < CAST($1 AS timestamptz) AND ($2::text[] IS NULL OR {after})
              ORDER BY {} LIMIT $3 FOR UPDATE OF t SKIP LOCKED",
            keys.join(", "),
            r.table.sql_name,
            order_by.join(", "),
            tc = tc.sql_name
        )
    }

    /// Of `keys`, those processed before (their key marker recorded by an erasure).
    pub fn done_among(&self, keys: &[Vec<String>]) -> Result<HashSet<Vec<String>>> {
        if !self.rows_stay() || keys.is_empty() {
            return Ok(HashSet::new());
        }
        let labels: Vec<String> = keys
            .iter()
            .map(|k| guard::marker_key(&k.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect();
        let done = self.markers(Some(labels))?;
        Ok(keys.iter().filter(|k| done.contains(*k)).cloned().collect())
    }

    /// The keys with a marker of this table's key (all of them, or those among `labels`).
    fn markers(&self, labels: Option<Vec<String>>) -> Result<HashSet<Vec<String>>> {
        let key_len = self.retention.key.len();
        let found = as_extension_owner(|| {
            Spi::connect(|client| {
                let mut out = Vec::new();
                for r in client.select(
                    "SELECT key FROM gdpr.erased_row
                      WHERE tbl = $1::regclass AND cols = $2::text[] AND ($3::text[] IS NULL OR key = ANY ($3))",
                    None,
                    &[
                        self.retention.table.oid.into(),
                        self.key_names().into(),
                        labels.into(),
                    ],
                )? {
                    out.extend(r.get::<String>(1)?);
                }
                Ok::<_, GdprError>(out)
            })
        })?;
        Ok(found
            .into_iter()
            .filter_map(|k| {
                if key_len == 1 {
                    Some(vec![k])
                } else {
                    serde_json::from_str::<Vec<String>>(&k).ok()
                }
            })
            .collect())
    }

    /// Counts what a run would do now: expired rows, those processed before, those held.
    pub fn counts(
        &self,
        client: &mut SpiClient<'_>,
        cutoff: &str,
        held: &HashSet<Vec<String>>,
    ) -> Result<Counts> {
        let table = &self.retention.table;
        let stats = fetch(client, table, &self.stats_sql(), &[TEXT], &[cutoff.into()])?;
        let (expired, oldest) = stats
            .into_iter()
            .next()
            .map(|row| {
                let mut row = row.into_iter();
                let expired = row.next().flatten().and_then(|c| c.parse().ok());
                (expired.unwrap_or(0), row.next().flatten())
            })
            .unwrap_or((0, None));
        let done_before = if self.rows_stay() && expired > 0 {
            let done: Vec<Vec<String>> = self.markers(None)?.into_iter().collect();
            self.count_keys(client, &done, cutoff)?
        } else {
            0
        };
        let held: Vec<Vec<String>> = held.iter().cloned().collect();
        let held = self.count_keys(client, &held, cutoff)?;
        Ok(Counts {
            expired,
            oldest,
            done_before,
            held,
        })
    }

    fn count_keys(
        &self,
        client: &mut SpiClient<'_>,
        keys: &[Vec<String>],
        cutoff: &str,
    ) -> Result<i64> {
        if keys.is_empty() {
            return Ok(0);
        }
        let mut columns: Vec<Vec<String>> =
            vec![Vec::with_capacity(keys.len()); self.retention.key.len()];
        for k in keys {
            for (c, v) in columns.iter_mut().zip(k) {
                c.push(v.clone());
            }
        }
        let mut types = vec![TEXT_ARRAY; columns.len()];
        types.push(TEXT);
        let mut args: Vec<DatumWithOid<'_>> = columns.into_iter().map(Into::into).collect();
        args.push(cutoff.into());
        let rows = fetch(
            client,
            &self.retention.table,
            &self.count_keys_sql(),
            &types,
            &args,
        )?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }
}

/// `OPERATOR(schema.=)` → `OPERATOR(schema.>)` (the same type's ordering operator, from the same schema).
fn operator(equals: &str, op: &str) -> String {
    match equals.strip_suffix("=)") {
        Some(prefix) => format!("{prefix}{op})"),
        None => op.to_string(),
    }
}

/// The cutoff of a table's period counted back from `from` (timestamptz text), as timestamptz text in ISO
/// form (computed as the extension owner, whose output settings are fixed: any session reads it back alike).
pub fn cutoff(from: &str, table: pg_sys::Oid) -> Result<String> {
    as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<String>(
            "SELECT (SELECT (CAST($1 AS timestamptz) - keep)::text FROM gdpr.retention WHERE tbl = $2::regclass)",
            &[from.into(), table.into()],
        )?
        .unwrap_or_default())
    })
}

/// The transaction's start time as ISO text.
pub fn now() -> Result<String> {
    as_extension_owner(|| Ok(Spi::get_one::<String>("SELECT now()::text")?.unwrap_or_default()))
}
