//! The order an erasure deletes in: children before the rows they reference, along every FOREIGN KEY between
//! its tables (excluded ones too). In a cycle of such keys (`guests.last_session_id` ↔ `sessions.guest_id`, both
//! erased by delete) no order works: the key that points against the order is unlinked first (its columns set
//! to NULL in the rows about to be deleted), or, if they cannot be NULL, the erasure is refused up front.

use std::collections::HashMap;

use pgrx::prelude::*;

use super::{position, Action, PlanTable, TableInfo};
use crate::catalog::introspect::{self, Column};
use crate::error::Result;
use crate::subject::graph::ForeignKey;

/// Delete tables ordered so that a table comes before every table it references (cycles broken by plan order).
pub(super) fn children_first(actions: &[Action], references: &[(usize, usize)]) -> Vec<usize> {
    let mut pending: Vec<usize> = (0..actions.len())
        .filter(|i| actions[*i] == Action::Delete)
        .collect();
    let mut order = Vec::new();
    while !pending.is_empty() {
        let has_pending_child = |t: usize, pending: &[usize]| {
            references
                .iter()
                .any(|&(child, parent)| parent == t && child != t && pending.contains(&child))
        };
        let pick = pending
            .iter()
            .position(|t| !has_pending_child(*t, &pending))
            .unwrap_or(pending.len() - 1);
        order.push(pending.remove(pick));
    }
    order
}

/// A NO ACTION / RESTRICT key between two tables erased by delete whose child is deleted after its parent (the
/// order could not be otherwise): reached child rows that reference reached parent rows would make the
/// parent's DELETE fail.
#[derive(Debug)]
pub struct CycleKey {
    pub child: usize,
    pub parent: usize,
    /// Positions of the referencing columns in the child's fetched rows, and of the referenced ones in the
    /// parent's.
    pub child_values: Vec<usize>,
    pub parent_values: Vec<usize>,
    /// `UPDATE child SET <cols> = NULL WHERE <identity>`: unlinks the rows before the deletes; None when a
    /// referencing column is NOT NULL.
    pub unlink_sql: Option<String>,
    pub label: String,
}

pub(super) struct CyclePart {
    child: usize,
    parent: usize,
    child_values: Vec<usize>,
    parent_values: Vec<usize>,
    child_cols: Vec<Column>,
    label: String,
}

/// The keys that point against `delete_order`, with their columns added to the fetched rows.
pub(super) fn reversed_keys(
    keys: &[ForeignKey],
    index: &HashMap<pg_sys::Oid, usize>,
    delete_order: &[usize],
    tables_info: &mut [TableInfo],
) -> Result<Vec<CyclePart>> {
    let rank: HashMap<usize, usize> = delete_order
        .iter()
        .enumerate()
        .map(|(r, t)| (*t, r))
        .collect();
    let mut parts = Vec::new();
    for k in keys.iter().filter(|k| k.blocks_delete()) {
        let (child, parent) = (index[&k.child], index[&k.parent]);
        let (Some(c), Some(p)) = (rank.get(&child), rank.get(&parent)) else {
            continue;
        };
        if child == parent || c < p {
            continue;
        }
        let child_cols = introspect::columns(&tables_info[child].0, &k.child_cols)?;
        let parent_cols = introspect::columns(&tables_info[parent].0, &k.parent_cols)?;
        let child_values = child_cols
            .iter()
            .map(|col| position(&mut tables_info[child].1, col))
            .collect();
        let parent_values = parent_cols
            .iter()
            .map(|col| position(&mut tables_info[parent].1, col))
            .collect();
        parts.push(CyclePart {
            label: format!(
                "{}({}) → {}({}) by foreign key {}",
                tables_info[child].0.display,
                k.child_cols.join(", "),
                tables_info[parent].0.display,
                k.parent_cols.join(", "),
                k.name
            ),
            child,
            parent,
            child_values,
            parent_values,
            child_cols,
        });
    }
    Ok(parts)
}

impl CyclePart {
    pub(super) fn finish(self, tables: &[PlanTable]) -> CycleKey {
        let child = &tables[self.child];
        let unlink_sql = self.child_cols.iter().all(|c| !c.not_null).then(|| {
            format!(
                "UPDATE {} AS t SET {} WHERE {}",
                child.table.sql_name,
                self.child_cols
                    .iter()
                    .map(|c| format!("{} = NULL", c.sql_name))
                    .collect::<Vec<_>>()
                    .join(", "),
                child.identity_predicate
            )
        });
        CycleKey {
            child: self.child,
            parent: self.parent,
            child_values: self.child_values,
            parent_values: self.parent_values,
            unlink_sql,
            label: self.label,
        }
    }
}
