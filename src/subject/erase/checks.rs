//! What an erasure checks after finding its rows and before changing any: everything PostgreSQL would refuse
//! half-way through is refused up front, with the same SQLSTATE, in dry runs too — so a dry run that succeeds
//! is followed by an erasure that succeeds (tests/pg_regress/sql/17_property.sql checks it on random schemas).

use std::collections::HashSet;

use pgrx::datum::DatumWithOid;
use pgrx::spi::SpiClient;
use serde_json::{json, Value};

use crate::error::{GdprError, Result};
use crate::privilege::{require_privileges, Privilege};
use crate::subject::plan::{Action, ErasurePlan, Identity, TEXT_ARRAY};
use crate::subject::reach::{fetch, value_columns, values_at, EdgeCount, Reach, Row};

/// Per plan table: whether the erasure deletes (some of) its rows — declared `delete`, or reached through an
/// ON DELETE CASCADE key from such a table (PostgreSQL deletes them along).
pub fn effectively_deleted(plan: &ErasurePlan, edge_counts: &[EdgeCount]) -> Vec<bool> {
    let mut deleted: Vec<bool> = plan
        .tables
        .iter()
        .map(|t| t.action == Action::Delete)
        .collect();
    let mut changed = true;
    while changed {
        changed = false;
        for (e, count) in plan.edges.iter().zip(edge_counts) {
            if count.matched > 0 && e.on_delete == 'c' && deleted[e.parent] && !deleted[e.child] {
                deleted[e.child] = true;
                changed = true;
            }
        }
    }
    deleted
}

/// Deleting a parent whose child rows stay (anonymized) would fail on a NO ACTION / RESTRICT foreign key
/// half-way through (42P17), as would ON DELETE SET NULL onto a NOT NULL column (23502); refuse up front, in dry
/// runs too, and say what to declare.
pub fn check_delete_conflicts(
    plan: &ErasurePlan,
    edge_counts: &[EdgeCount],
    deleted: &[bool],
) -> Result<()> {
    for (edge, count) in plan.edges.iter().zip(edge_counts) {
        let matched = count.matched;
        let (parent, child) = (&plan.tables[edge.parent], &plan.tables[edge.child]);
        // A parent counts as deleted if a cascade may delete its rows; a child only if declared `delete` (a
        // cascade deletes just the rows it reaches): either way a doubt refuses, in dry runs and erasures alike.
        if matched == 0 || !deleted[edge.parent] || child.action == Action::Delete {
            continue;
        }
        let deleted_how = if parent.action == Action::Delete {
            "is erased by delete"
        } else {
            "loses rows by ON DELETE CASCADE from a table erased by delete"
        };
        if edge.blocks_delete {
            return Err(GdprError::InvalidDefinition(format!(
                "{} {deleted_how}, but {} of its rows are referenced through {} (ON DELETE NO ACTION/RESTRICT) \
                 and would only be anonymized: declare gdpr.declare_erase_action('{}', 'delete') or exclude the reference",
                parent.table.display, matched, edge.label, child.table.display
            )));
        }
        if matches!(edge.on_delete, 'n' | 'd') && edge.child_not_null {
            return Err(GdprError::NotNullViolation(format!(
                "{} {deleted_how}, but {} of its rows are referenced through {} (ON DELETE SET NULL/DEFAULT) \
                 from a NOT NULL column of rows that would only be anonymized: declare \
                 gdpr.declare_erase_action('{}', 'delete')",
                parent.table.display, matched, edge.label, child.table.display
            )));
        }
    }
    Ok(())
}

/// Rows that an excluded FOREIGN KEY (NO ACTION / RESTRICT) keeps pointing at rows this erasure deletes would
/// make the delete fail half-way (`23503`): refused up front, in dry runs too, naming the key. Rows of the
/// referencing table that the erasure deletes itself (reached another way) do not count. Rows an excluded
/// CASCADE / SET NULL / SET DEFAULT key changes are returned, for the report (dry runs see them coming); SET
/// NULL onto a NOT NULL column is refused (`23502`).
pub fn check_excluded_referrers(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    reach: &[Reach],
    deleted: &[bool],
    what: &str,
) -> Result<Vec<Value>> {
    let mut cascades = Vec::new();
    for x in &plan.excluded_referrers {
        let parent = &plan.tables[x.parent];
        if !deleted[x.parent] || reach[x.parent].rows.is_empty() {
            continue;
        }
        require_privileges(&x.child, &[Privilege::Select], what)?;
        let columns = value_columns(reach[x.parent].rows.iter(), &x.parent_values);
        let mut types = vec![TEXT_ARRAY; columns.len()];
        let mut args: Vec<DatumWithOid<'_>> = columns.into_iter().map(Into::into).collect();
        if let Some(c) = x.child_index {
            let child = &plan.tables[c];
            if let Identity::Key(idx) = &child.identity {
                // The child's reached rows go with the erasure only if it deletes them.
                let rows: &[Row] = if child.action == Action::Delete {
                    &reach[c].rows
                } else {
                    &[]
                };
                for i in idx {
                    let keys: Vec<Option<String>> = rows.iter().map(|r| r[i + 2].clone()).collect();
                    types.push(TEXT_ARRAY);
                    args.push(keys.into());
                }
            }
        }
        let rows = fetch(client, &x.child, &x.count_sql, &types, &args)?;
        let count: i64 = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if count == 0 {
            continue;
        }
        if x.refuses() {
            return Err(GdprError::ForeignKeyViolation(format!(
                "{what} would delete rows of {} that {count} row(s) of {} still reference through {}, which is \
                 excluded (ON DELETE NO ACTION/RESTRICT): stop excluding it, or let those rows go with the erasure",
                parent.table.display, x.child.display, x.label
            )));
        }
        if x.on_delete != "cascade" && x.child_not_null {
            return Err(GdprError::NotNullViolation(format!(
                "{what} would delete rows of {} that {count} row(s) of {} reference through {}, which is excluded \
                 and would set a NOT NULL column to NULL (ON DELETE {})",
                parent.table.display,
                x.child.display,
                x.label,
                x.on_delete.to_uppercase()
            )));
        }
        cascades.push(json!({"reference": x.label, "on_delete": x.on_delete, "rows": count}));
    }
    Ok(cascades)
}

/// Rows to unlink before the deletes: per cycle key (index in `plan.delete_cycles`), the reached child rows
/// that reference reached parent rows. A key whose columns cannot be NULL is refused (42P17).
pub fn check_delete_cycles(
    plan: &ErasurePlan,
    reach: &[Reach],
    dry_run: bool,
    what: &str,
) -> Result<Vec<(usize, Vec<Row>)>> {
    let mut unlinks = Vec::new();
    for (k, key) in plan.delete_cycles.iter().enumerate() {
        let parents: HashSet<Vec<String>> = reach[key.parent]
            .rows
            .iter()
            .filter_map(|r| values_at(r, &key.parent_values))
            .collect();
        let rows: Vec<Row> = reach[key.child]
            .rows
            .iter()
            .filter(|r| values_at(r, &key.child_values).is_some_and(|t| parents.contains(&t)))
            .cloned()
            .collect();
        if rows.is_empty() {
            continue;
        }
        let child = &plan.tables[key.child];
        if key.unlink_sql.is_none() {
            return Err(GdprError::InvalidDefinition(format!(
                "{what} deletes rows of {} and of {} that reference each other in a cycle of foreign keys, and {} \
                 cannot be set to NULL first (NOT NULL): declare one of the tables anonymized instead",
                plan.tables[key.parent].table.display, child.table.display, key.label
            )));
        }
        if !dry_run {
            // Unlinking changes rows the caller deletes anyway, but it is an UPDATE: the caller must be allowed it.
            require_privileges(&child.table, &[Privilege::Update], what)?;
        }
        unlinks.push((k, rows));
    }
    Ok(unlinks)
}
