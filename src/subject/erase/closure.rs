//! What deleting the erasure's rows makes PostgreSQL do beyond them: ON DELETE CASCADE keys delete further rows
//! (in tables the erasure never reached, through excluded keys, at any depth), and every deleted row must then be
//! referenced by no surviving row through a NO ACTION / RESTRICT key. Computed before anything changes — in dry
//! runs too — so that a dry run that succeeds is not followed by an erasure failing with `23503` half-way.

use std::collections::{HashMap, HashSet};

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::catalog::introspect::{self, Table};
use crate::error::{GdprError, Result};
use crate::privilege::{has_privilege, Privilege};
use crate::subject::graph::foreign_keys_onto;
use crate::subject::plan::{match_values, Action, ErasurePlan, TEXT, TEXT_ARRAY};
use crate::subject::reach::{fetch, Reach};

/// A row of any table: (tableoid, ctid) as text.
type RowId = (String, String);

/// The rows' ids grouped by partition: `ctid = ANY(tid[])` per relation is a TID scan.
fn by_relation(rows: &[RowId]) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for (relation, ctid) in rows {
        out.entry(relation.as_str())
            .or_default()
            .push(ctid.as_str());
    }
    out
}

/// Rows of one table deleted by the erasure or by a cascade, by `ctid@tableoid`.
#[derive(Default)]
struct Deleted {
    rows: HashSet<RowId>,
    /// Rows whose referencing keys have been followed.
    followed: HashSet<RowId>,
}

/// A row that a NO ACTION / RESTRICT key makes reference a deleted row; a violation unless deleted itself.
struct Blocker {
    table: pg_sys::Oid,
    row: RowId,
    message: String,
}

/// Checks the cascade closure of the erasure's deletes (see the module comment). `what` names the erasure.
pub fn check_delete_closure(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    reach: &[Reach],
    what: &str,
) -> Result<()> {
    // Each table's catalog rows once, however many keys and rounds look at it.
    let _memo = introspect::memo();
    let mut deleted: HashMap<pg_sys::Oid, Deleted> = HashMap::new();
    // The rows the reach found: a reference the reach followed into a table erased by delete already found (and
    // deletes) every row referencing them; rows only a cascade deletes have no such guarantee.
    let mut reached: HashSet<RowId> = HashSet::new();
    let mut tables: HashMap<pg_sys::Oid, Table> = HashMap::new();
    for (t, r) in plan.tables.iter().zip(reach) {
        if t.action == Action::Delete && !r.rows.is_empty() {
            let entry = deleted.entry(t.table.oid).or_default();
            for row in &r.rows {
                let id = (
                    row[1].clone().unwrap_or_default(),
                    row[0].clone().unwrap_or_default(),
                );
                reached.insert(id.clone());
                entry.rows.insert(id);
            }
            tables.insert(t.table.oid, t.table.clone());
        }
    }
    let plan_index: HashMap<pg_sys::Oid, usize> = plan
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.table.oid, i))
        .collect();
    let mut blockers: Vec<Blocker> = Vec::new();
    loop {
        check_for_interrupts!();
        let Some((&oid, entry)) = deleted
            .iter_mut()
            .find(|(_, d)| d.rows.len() > d.followed.len())
        else {
            break;
        };
        let new: Vec<RowId> = entry.rows.difference(&entry.followed).cloned().collect();
        entry.followed.extend(new.iter().cloned());
        let parent = tables[&oid].clone();
        for key in foreign_keys_onto(client, parent.oid)? {
            // Covered by the reach: a followed reference whose child rows the erasure deletes itself.
            let covered = plan_index.get(&key.child).is_some_and(|&c| {
                plan.tables[c].action == Action::Delete
                    && plan.edges.iter().any(|e| {
                        e.child == c
                            && plan.tables[e.parent].table.oid == oid
                            && e.child_cols == key.child_cols
                    })
            });
            if !matches!(key.on_delete, 'a' | 'r' | 'c') {
                continue;
            }
            let rows: Vec<RowId> = if covered {
                new.iter()
                    .filter(|r| !reached.contains(*r))
                    .cloned()
                    .collect()
            } else {
                new.clone()
            };
            if rows.is_empty() {
                continue;
            }
            let child = match tables.get(&key.child) {
                Some(t) => t.clone(),
                None => introspect::table(key.child)?,
            };
            // What the caller may not read it cannot be told about: PostgreSQL's own check still applies.
            if !has_privilege(parent.oid, Privilege::Select)
                || !has_privilege(child.oid, Privilege::Select)
            {
                continue;
            }
            let parent_cols = introspect::columns(&parent, &key.parent_cols)?;
            let child_cols = introspect::columns(&child, &key.child_cols)?;
            // The deleted rows' referenced values (as the parent's owner)...
            let list: Vec<String> = parent_cols
                .iter()
                .map(|c| format!("t.{}::text", c.sql_name))
                .collect();
            let values_sql = format!(
                "SELECT {} FROM {} AS t WHERE t.ctid = ANY (CAST($1 AS tid[])) AND t.tableoid = CAST($2 AS oid)",
                list.join(", "),
                parent.sql_name
            );
            let mut columns: Vec<Vec<String>> = vec![Vec::new(); parent_cols.len()];
            for (relation, ctids) in by_relation(&rows) {
                let args = [ctids.into(), relation.into()];
                for row in fetch(client, &parent, &values_sql, &[TEXT_ARRAY, TEXT], &args)? {
                    if let Some(tuple) = row.into_iter().collect::<Option<Vec<String>>>() {
                        for (c, v) in columns.iter_mut().zip(tuple) {
                            c.push(v);
                        }
                    }
                }
            }
            if columns.first().is_none_or(Vec::is_empty) {
                continue;
            }
            // ...then the rows referencing them (as the child's owner).
            let referencing_sql = format!(
                "SELECT t.tableoid::oid::text, t.ctid::text FROM {} AS t WHERE {}",
                child.sql_name,
                match_values(&child_cols.iter().collect::<Vec<_>>(), 1)
            );
            let types = vec![TEXT_ARRAY; columns.len()];
            let args: Vec<_> = columns.into_iter().map(Into::into).collect();
            let referencing: Vec<RowId> = fetch(client, &child, &referencing_sql, &types, &args)?
                .into_iter()
                .filter_map(|r| Some((r.first()?.clone()?, r.get(1)?.clone()?)))
                .collect();
            if key.on_delete == 'c' {
                tables.entry(child.oid).or_insert_with(|| child.clone());
                deleted
                    .entry(child.oid)
                    .or_default()
                    .rows
                    .extend(referencing);
            } else {
                blockers.extend(referencing.into_iter().map(|row| Blocker {
                    table: child.oid,
                    row,
                    message: format!(
                        "{what} would delete rows of {} that rows of {} still reference through foreign key {} \
                         (ON DELETE {}), rows it does not delete",
                        parent.display,
                        child.display,
                        key.name,
                        if key.on_delete == 'r' { "RESTRICT" } else { "NO ACTION" }
                    ),
                }));
            }
        }
    }
    for b in blockers {
        if !deleted
            .get(&b.table)
            .is_some_and(|d| d.rows.contains(&b.row))
        {
            return Err(GdprError::ForeignKeyViolation(b.message));
        }
    }
    Ok(())
}
