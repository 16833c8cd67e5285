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
use crate::subject::plan::{match_exprs, Action, ErasurePlan, TEXT, TEXT_ARRAY};
use crate::subject::reach::fetch;
use crate::subject::{graph, guard};

pub const INT4: pgrx::PgOid = pgrx::PgOid::BuiltIn(pg_sys::BuiltinOid::INT4OID);

/// A part of the key expired rows are addressed by: a primary-key column, or for a table without one its
/// `tableoid` and `ctid` (stable while the batch holds the row locked).
struct KeyPart {
    expr: String,
    compare_type: String,
    equals: String,
    greater: String,
}

pub struct Rule {
    pub retention: Retention,
    /// The erasure plan (None for a table without primary key: nothing can be tied to its rows, they are
    /// deleted by ctid).
    pub plan: Option<Rc<ErasurePlan>>,
    key: Vec<KeyPart>,
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
    /// The declaration with its erasure plan; a table without primary key must be one no other row can
    /// belong to (nothing references it), or deleting its rows alone would leave theirs behind.
    pub fn new(retention: Retention) -> Result<Rule> {
        if retention.key.is_empty() {
            let reach = graph::reachable(retention.table.oid, graph::load_references()?);
            if let Some(other) = reach.order.get(1) {
                let other = crate::catalog::introspect::table(*other)?;
                return Err(GdprError::InvalidDefinition(format!(
                    "{} has no primary key, but rows of {} belong to its rows: retention would delete them by ctid \
                     and leave those behind (add a primary key)",
                    retention.table.display, other.display
                )));
            }
            let key = vec![
                KeyPart {
                    expr: "t.tableoid".into(),
                    compare_type: "oid".into(),
                    equals: "OPERATOR(pg_catalog.=)".into(),
                    greater: "OPERATOR(pg_catalog.>)".into(),
                },
                KeyPart {
                    expr: "t.ctid".into(),
                    compare_type: "tid".into(),
                    equals: "OPERATOR(pg_catalog.=)".into(),
                    greater: "OPERATOR(pg_catalog.>)".into(),
                },
            ];
            return Ok(Rule {
                retention,
                plan: None,
                key,
            });
        }
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
        let key = retention
            .key
            .iter()
            .map(|c| KeyPart {
                expr: format!("t.{}", c.sql_name),
                compare_type: c.compare_type.clone(),
                equals: c.equals.clone(),
                greater: c.greater.clone(),
            })
            .collect();
        Ok(Rule {
            retention,
            plan: Some(plan),
            key,
        })
    }

    pub fn key_len(&self) -> usize {
        self.key.len()
    }

    /// Whether a processed row stays in the table (anonymized, or a subject whose row is kept): such rows
    /// are recognised by the erased-subject guard's marker of their key, recorded by the erasure.
    pub fn rows_stay(&self) -> bool {
        self.plan
            .as_ref()
            .is_some_and(|p| p.tables[0].action == Action::Anonymize)
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

    /// Counts the expired rows among given keys (`$1..`: one `text[]` per key part, then the cutoff).
    fn count_keys_sql(&self) -> String {
        let n = self.key.len();
        let parts: Vec<(String, &str, &str)> = self
            .key
            .iter()
            .map(|p| (p.expr.clone(), p.equals.as_str(), p.compare_type.as_str()))
            .collect();
        let matches = match_exprs(&parts, 1);
        format!(
            "SELECT count(*)::text FROM {} AS t WHERE {matches} AND t.{} < CAST(${} AS timestamptz)",
            self.retention.table.sql_name,
            self.retention.time_col.sql_name,
            n + 1
        )
    }

    /// The next batch of expired rows after a position, oldest first, locked; rows another transaction holds
    /// are skipped (taken by a later run). `$1` cutoff, `$2` the position (time, then key values) or NULL,
    /// `$3` the batch size. Returns the key values, then the time value.
    pub fn batch_sql(&self) -> String {
        let r = &self.retention;
        let tc = &r.time_col;
        let mut order = vec![(
            format!("t.{}", tc.sql_name),
            tc.compare_type.as_str(),
            tc.equals.as_str(),
            tc.greater.as_str(),
        )];
        order.extend(self.key.iter().map(|p| {
            (
                p.expr.clone(),
                p.compare_type.as_str(),
                p.equals.as_str(),
                p.greater.as_str(),
            )
        }));
        // (a, b, c) > ($2[1], $2[2], $2[3]) spelled out with each type's own operators (those ORDER BY sorts by).
        let mut after = String::new();
        for (i, (expr, compare_type, equals, greater)) in order.iter().enumerate().rev() {
            let value = format!("CAST(($2::text[])[{}] AS {compare_type})", i + 1);
            after = if after.is_empty() {
                format!("{expr} {greater} {value}")
            } else {
                format!("({expr} {greater} {value} OR ({expr} {equals} {value} AND {after}))")
            };
        }
        let keys: Vec<String> = self
            .key
            .iter()
            .map(|p| format!("{}::text", p.expr))
            .collect();
        let order_by: Vec<&str> = order.iter().map(|(e, ..)| e.as_str()).collect();
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

    /// Deletes locked rows of a table without primary key by ctid (`$1` ctids of one relation, `$2` its oid).
    pub fn delete_by_ctid_sql(&self) -> String {
        format!(
            "DELETE FROM {} AS t WHERE t.ctid = ANY (CAST($1 AS tid[])) AND t.tableoid = CAST($2 AS oid)",
            self.retention.table.sql_name
        )
    }

    fn key_names(&self) -> Vec<String> {
        self.retention.key.iter().map(|c| c.name.clone()).collect()
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
        let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(keys.len()); self.key.len()];
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
