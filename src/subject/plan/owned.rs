//! Owned references (`gdpr.declare_owned`): parent rows that belong to the rows referencing them — an
//! attachment's file, a content-addressed blob shared by whoever sent the same file. The plan follows them
//! upwards; the reach takes a parent row only when no row but those the erasure deletes still references it.

use std::collections::HashMap;

use pgrx::prelude::*;

use super::sql::{match_text_values, match_values, row_lock, select_sql, select_sql_with};
use super::{graph, position, Identity, PlanTable, TableInfo};
use crate::catalog::introspect::{self, Column, Table};
use crate::error::Result;

/// A reference whose parent rows belong to the rows referencing them (`gdpr.declare_owned`: an attachment's
/// file, a content-addressed blob). After the reach, each parent row the reached child rows reference is taken
/// — and gets the parent table's action — when no row but those the erasure deletes references it through any
/// reference (`referrers`); a blob another person's attachment still uses is left alone.
#[derive(Debug)]
pub struct OwnedEdge {
    pub child: usize,
    pub parent: usize,
    /// Positions (in the child's fetched row) of the referencing columns.
    pub child_values: Vec<usize>,
    /// Positions (in the parent's fetched row) of the referenced columns, and their names.
    pub parent_values: Vec<usize>,
    pub parent_cols: Vec<String>,
    /// A polymorphic link: only child rows whose type column (position in the child's fetched row) holds the
    /// value reference the parent.
    pub discriminator: Option<(usize, String)>,
    /// Parent rows whose referenced columns match the given `text[]`s: locked, unlocked, with the whole row.
    pub select_locked: String,
    pub select_unlocked: String,
    pub select_export: String,
    /// Every reference onto the parent table: what keeps a parent row in use.
    pub referrers: Vec<Referrer>,
    /// `chat.attachments(blob_id) → chat.blobs(id) by foreign key …, owned`.
    pub label: String,
}

/// A reference onto an owned parent table, with the statement that finds which parent rows it still uses.
#[derive(Debug)]
pub struct Referrer {
    pub table: Table,
    /// Positions (in the parent's fetched row) of the referenced columns.
    pub parent_values: Vec<usize>,
    /// The plan table of the referencing table: its reached rows go with the erasure and do not count.
    pub index: Option<usize>,
    /// `SELECT DISTINCT` of the referencing values (text) of rows matching `$1..` (one `text[]` per column),
    /// then the discriminator value if any, then (with `index`) the identities of the rows not to count.
    pub sql: String,
    /// A polymorphic link's type value: only rows holding it reference the parent.
    pub discriminator: Option<String>,
}

/// An owned reference between reached tables, with the columns its statements need (fetched by now).
pub(super) struct OwnedPart {
    pub(super) reference: graph::Reference,
    pub(super) child: usize,
    pub(super) parent: usize,
    pub(super) referrers: Vec<ReferrerPart>,
    child_values: Vec<usize>,
    parent_values: Vec<usize>,
    discriminator: Option<(usize, String)>,
    parent_cols: Vec<Column>,
    same_types: bool,
}

pub(super) struct ReferrerPart {
    pub(super) index: Option<usize>,
    table: Table,
    cols: Vec<Column>,
    parent_values: Vec<usize>,
    same_types: bool,
    discriminator: Option<(Column, String)>,
}

/// The owned references' columns: the child's referencing values and type column, and for every reference onto
/// the parent (excluded or not) the parent's referenced columns, all added to the fetched rows.
pub(super) fn owned_parts(
    owned: &[graph::Reference],
    all_refs: &[graph::Reference],
    index: &HashMap<pg_sys::Oid, usize>,
    tables_info: &mut [TableInfo],
) -> Result<Vec<OwnedPart>> {
    let mut parts = Vec::new();
    for r in owned {
        let (child, parent) = (index[&r.child], index[&r.parent]);
        let child_cols = introspect::columns(&tables_info[child].0, &r.child_cols)?;
        let parent_cols = introspect::columns(&tables_info[parent].0, &r.parent_cols)?;
        let child_values = child_cols
            .iter()
            .map(|c| position(&mut tables_info[child].1, c))
            .collect();
        let parent_values = parent_cols
            .iter()
            .map(|c| position(&mut tables_info[parent].1, c))
            .collect();
        let discriminator = match &r.discriminator {
            Some((col, value)) => {
                let col = introspect::column(&tables_info[child].0, col)?;
                Some((position(&mut tables_info[child].1, &col), value.clone()))
            }
            None => None,
        };
        let same = same_types(&child_cols, &parent_cols);
        let mut referrers = Vec::new();
        for x in all_refs.iter().filter(|x| x.parent == r.parent) {
            let table = introspect::table(x.child)?;
            let cols = introspect::columns(&table, &x.child_cols)?;
            let referenced = introspect::columns(&tables_info[parent].0, &x.parent_cols)?;
            let parent_values = referenced
                .iter()
                .map(|c| position(&mut tables_info[parent].1, c))
                .collect();
            let discriminator = match &x.discriminator {
                Some((col, value)) => Some((introspect::column(&table, col)?, value.clone())),
                None => None,
            };
            referrers.push(ReferrerPart {
                same_types: same_types(&cols, &referenced),
                index: index.get(&x.child).copied(),
                table,
                cols,
                parent_values,
                discriminator,
            });
        }
        parts.push(OwnedPart {
            reference: r.clone(),
            child,
            parent,
            child_values,
            parent_values,
            discriminator,
            parent_cols,
            same_types: same,
            referrers,
        });
    }
    Ok(parts)
}

fn same_types(a: &[Column], b: &[Column]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.type_sql == y.type_sql)
}

/// `SELECT DISTINCT` of the referencing values of rows that use the given parent values, leaving out the rows
/// the erasure itself reached (`$n..`: their identities).
fn referrer_sql(x: &ReferrerPart, tables: &[PlanTable]) -> Referrer {
    let cols: Vec<&Column> = x.cols.iter().collect();
    let mut predicate = if x.same_types {
        match_values(&cols, 1)
    } else {
        match_text_values(&cols, 1)
    };
    let mut next = cols.len() + 1;
    if let Some((col, _)) = &x.discriminator {
        predicate.push_str(&format!(
            " AND t.{} {} CAST(${next} AS {})",
            col.sql_name, col.equals, col.compare_type
        ));
        next += 1;
    }
    if let Some(i) = x.index {
        let t = &tables[i];
        match &t.identity {
            Identity::Key(idx) => {
                let key: Vec<&Column> = idx.iter().map(|i| &t.fetched[*i]).collect();
                predicate.push_str(&format!(" AND NOT {}", match_values(&key, next)));
            }
            Identity::Ctid => predicate.push_str(&format!(
                " AND NOT (t.ctid::text || '@' || t.tableoid::text) = ANY (${next}::text[])"
            )),
        }
    }
    Referrer {
        sql: format!(
            "SELECT DISTINCT {} FROM {} AS t WHERE {predicate}",
            cols.iter()
                .map(|c| format!("t.{}::text", c.sql_name))
                .collect::<Vec<_>>()
                .join(", "),
            x.table.sql_name
        ),
        table: x.table.clone(),
        parent_values: x.parent_values.clone(),
        index: x.index,
        discriminator: x.discriminator.as_ref().map(|(_, v)| v.clone()),
    }
}

/// `guests ← attachments(guest_id) → blobs(id)`: a parent table reached through an owned reference.
pub(super) fn owned_path(child_path: &str, parent: &Table, r: &graph::Reference) -> String {
    format!(
        "{child_path} → {}({})",
        parent.display,
        r.parent_cols.join(", ")
    )
}

pub(super) fn owned_edge(o: OwnedPart, tables: &[PlanTable], export_exprs: &[String]) -> OwnedEdge {
    let parent = &tables[o.parent];
    let cols: Vec<&Column> = o.parent_cols.iter().collect();
    let predicate = if o.same_types {
        match_values(&cols, 1)
    } else {
        match_text_values(&cols, 1)
    };
    let lock = row_lock(parent.action, true);
    let r = &o.reference;
    OwnedEdge {
        select_locked: select_sql(&parent.table, &parent.fetched, &predicate, Some(lock)),
        select_unlocked: select_sql(&parent.table, &parent.fetched, &predicate, None),
        select_export: select_sql_with(
            &parent.table,
            &parent.fetched,
            &predicate,
            None,
            Some(&export_exprs[o.parent]),
        ),
        referrers: o
            .referrers
            .iter()
            .map(|x| referrer_sql(x, tables))
            .collect(),
        label: format!(
            "{}({}) → {}({}) by {}, owned",
            tables[o.child].table.display,
            r.child_cols.join(", "),
            parent.table.display,
            r.parent_cols.join(", "),
            r.label
        ),
        child: o.child,
        parent: o.parent,
        child_values: o.child_values,
        parent_values: o.parent_values,
        parent_cols: r.parent_cols.clone(),
        discriminator: o.discriminator,
    }
}
