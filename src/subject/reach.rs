//! The rows tied to one subject, or to many at once: from the subjects' rows, every reference of the plan is
//! followed for the key values found so far (set-based, semi-naive) until nothing new is found. Erasure,
//! export, trace location, retention and legal holds all start from this one reach.

use std::collections::{HashMap, HashSet};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgOid;

use super::plan::{Action, ErasurePlan, Identity, OwnedEdge, PlanTable, TEXT, TEXT_ARRAY};
use crate::cache;
use crate::catalog::introspect::Table;
use crate::error::{GdprError, Result};
use crate::privilege::as_table_owner;

/// A found row as text: ctid, tableoid, then the plan table's fetched columns.
pub type Row = Vec<Option<String>>;

/// Rows a reference matched, and how many of them it reached first.
#[derive(Default, Clone, Copy)]
pub struct EdgeCount {
    pub matched: usize,
    pub first_reached: usize,
}

/// The owner of a row whose referencing values equal no reached parent row's in text form (a reference compared
/// by a type's own equality, e.g. `citext`): reached, erased, but counted for no subject in particular.
pub const UNATTRIBUTED: usize = usize::MAX;

#[derive(Default)]
pub struct Reach {
    pub rows: Vec<Row>,
    /// Per row: the subject (position in the list of ids) whose reach found it first.
    pub owners: Vec<usize>,
    seen: HashSet<Vec<Option<String>>>,
    /// Rows before this index have had their references followed.
    followed: usize,
    /// Rows deleted straight from their parents' keys (`PlanTable::delete_directly`), never fetched: the
    /// subject each was deleted for.
    pub deleted: Vec<usize>,
}

impl Reach {
    /// Rows reached: fetched or deleted directly.
    pub fn count(&self) -> usize {
        self.rows.len() + self.deleted.len()
    }

    /// Rows reached per subject (`subjects` of them); unattributed rows are not counted.
    pub fn count_by_owner(&self, subjects: usize) -> Vec<usize> {
        let mut counts = vec![0; subjects];
        for &o in self.owners.iter().chain(&self.deleted) {
            if let Some(c) = counts.get_mut(o) {
                *c += 1;
            }
        }
        counts
    }

    fn add(&mut self, table: &PlanTable, row: Row, owner: usize) -> bool {
        let identity = match &table.identity {
            Identity::Key(idx) => idx.iter().map(|i| row[i + 2].clone()).collect(),
            Identity::Ctid => vec![row[0].clone(), row[1].clone()],
        };
        let new = self.seen.insert(identity);
        if new {
            self.rows.push(row);
            self.owners.push(owner);
        }
        new
    }
}

/// The values at `positions` (of a plan table's fetched columns) in a fetched row; None if one is NULL.
pub fn values_at(row: &Row, positions: &[usize]) -> Option<Vec<String>> {
    positions.iter().map(|p| row[p + 2].clone()).collect()
}

/// The distinct value tuples at `positions` of `rows`, as one `text[]` per position (rows with a NULL among
/// them left out): the arguments of a statement matching those values.
pub fn value_columns<'r>(
    rows: impl Iterator<Item = &'r Row>,
    positions: &[usize],
) -> Vec<Vec<String>> {
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); positions.len()];
    let mut seen: HashSet<Vec<String>> = HashSet::new();
    for tuple in rows.filter_map(|row| values_at(row, positions)) {
        if seen.insert(tuple.clone()) {
            for (c, v) in columns.iter_mut().zip(tuple) {
                c.push(v);
            }
        }
    }
    columns
}

/// Runs a query on `table`'s rows as the table's owner (see privilege.rs) and returns its rows as text.
pub fn fetch(
    client: &mut SpiClient<'_>,
    table: &Table,
    sql: &str,
    types: &[PgOid],
    args: &[DatumWithOid<'_>],
) -> Result<Vec<Row>> {
    fetch_doing(client, table, "reading", sql, types, args)
}

/// `fetch` for a statement that also changes rows (`DELETE … RETURNING`), `doing` naming it in errors.
pub fn fetch_doing(
    client: &mut SpiClient<'_>,
    table: &Table,
    doing: &str,
    sql: &str,
    types: &[PgOid],
    args: &[DatumWithOid<'_>],
) -> Result<Vec<Row>> {
    // Prepared inside too: parsing takes the table's lock, and a lock timeout there must name the table.
    let result = as_table_owner(table, doing, || {
        let stmt = cache::statement(client, sql, types)?;
        Ok(client.update(&*stmt, None, args)?)
    })?;
    let width = result.columns()?;
    let mut rows = Vec::with_capacity(result.len());
    for r in result {
        check_for_interrupts!();
        let mut row = Vec::with_capacity(width);
        for i in 1..=width {
            row.push(r.get::<String>(i)?);
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Runs a change on `table`'s rows as the table's owner; returns the number of rows changed.
pub fn execute(
    client: &mut SpiClient<'_>,
    table: &Table,
    doing: &str,
    sql: &str,
    types: &[PgOid],
    args: &[DatumWithOid<'_>],
) -> Result<usize> {
    as_table_owner(table, doing, || {
        let stmt = cache::statement(client, sql, types)?;
        Ok(client.update(&*stmt, None, args)?.len())
    })
}

/// What the reach is for: it decides the statements (locking, reading, reading whole rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A real erasure: rows are locked as they are found; leaves deleted straight from their parents' keys.
    Erase,
    /// A dry run, `locate`: rows are read, nothing is locked or changed.
    Read,
    /// An export: as `Read`, each row also carries its whole content (last column, jsonb text).
    Export,
}

/// Finds all rows tied to the subjects `ids` (each a key, canonical: see `check_key_values`). Returns the rows
/// per plan table, each with the subject that reached it first, and per edge how many rows it matched and how
/// many it reached first.
pub fn find_rows(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    ids: &[Vec<String>],
    purpose: Purpose,
) -> Result<(Vec<Reach>, Vec<EdgeCount>)> {
    let dry_run = purpose != Purpose::Erase;
    let mut reach: Vec<Reach> = plan.tables.iter().map(|_| Reach::default()).collect();
    // Per reference of the plan, then per owned reference.
    let mut edge_counts = vec![EdgeCount::default(); plan.edges.len() + plan.owned.len()];
    let mut followed_values: Vec<HashSet<Vec<String>>> =
        plan.edges.iter().map(|_| HashSet::new()).collect();
    // Per owned reference: the parent rows it took (taken again by a later pass, they count once).
    let mut owned_taken: Vec<HashSet<Row>> = plan.owned.iter().map(|_| HashSet::new()).collect();

    let root_sql = match purpose {
        Purpose::Erase => &plan.root_select_locked,
        Purpose::Read => &plan.root_select_unlocked,
        Purpose::Export => &plan.root_select_export,
    };
    let root = &plan.tables[0].table;
    let mut key_columns: Vec<Vec<String>> = vec![Vec::with_capacity(ids.len()); plan.root_key_len];
    for id in ids {
        for (column, value) in key_columns.iter_mut().zip(id) {
            column.push(value.clone());
        }
    }
    let types = vec![TEXT_ARRAY; plan.root_key_len];
    let args: Vec<DatumWithOid<'_>> = key_columns.into_iter().map(Into::into).collect();
    for mut row in fetch(client, root, root_sql, &types, &args)? {
        // The last column: which of the ids found the row (1-based).
        let ordinal = row.pop().flatten().and_then(|o| o.parse::<usize>().ok());
        reach[0].add(
            &plan.tables[0],
            row,
            ordinal.map_or(UNATTRIBUTED, |o| o - 1),
        );
    }
    let attribute = ids.len() > 1;
    if reach[0].rows.is_empty() {
        return Ok((reach, edge_counts));
    }

    // Semi-naive fixpoint: follow each reference only for the key values found since the last round.
    loop {
        check_for_interrupts!();
        let mut progressed = false;
        for t in 0..plan.tables.len() {
            let (from, to) = (reach[t].followed, reach[t].rows.len());
            if from == to {
                continue;
            }
            reach[t].followed = to;
            progressed = true;
            for (ei, edge) in plan.edges.iter().enumerate().filter(|(_, e)| {
                e.parent == t && (dry_run || !plan.tables[e.child].skip_when_erasing)
            }) {
                let mut columns: Vec<Vec<String>> = vec![Vec::new(); edge.parent_values.len()];
                // Whose rows the values lead to: the subject of the first parent row holding them.
                let mut owner_of: HashMap<Vec<String>, usize> = HashMap::new();
                let mut owners_in_order: Vec<usize> = Vec::new();
                for (row, &owner) in reach[t].rows[from..to]
                    .iter()
                    .zip(&reach[t].owners[from..to])
                {
                    if let Some(tuple) = values_at(row, &edge.parent_values) {
                        if followed_values[ei].insert(tuple.clone()) {
                            if attribute {
                                owner_of.insert(tuple.clone(), owner);
                                owners_in_order.push(owner);
                            }
                            for (c, v) in columns.iter_mut().zip(tuple) {
                                c.push(v);
                            }
                        }
                    }
                }
                let owner = |values: &[Option<String>]| -> usize {
                    if !attribute {
                        return 0;
                    }
                    values
                        .iter()
                        .cloned()
                        .collect::<Option<Vec<String>>>()
                        .and_then(|tuple| owner_of.get(&tuple).copied())
                        .unwrap_or(UNATTRIBUTED)
                };
                if columns[0].is_empty() {
                    continue;
                }
                let parents_in_order = columns[0].clone();
                // Rows whose values matched no parent's text: resolved below with the type's own equality.
                let mut pending: Vec<(Slot, String)> = Vec::new();
                let mut args: Vec<DatumWithOid<'_>> = columns.into_iter().map(Into::into).collect();
                if let Some(value) = &edge.discriminator {
                    args.push(value.clone().into());
                }
                if !dry_run && plan.tables[edge.child].delete_directly {
                    let child = &plan.tables[edge.child].table;
                    let types = edge.param_types();
                    let deleted = fetch_doing(
                        client,
                        child,
                        "deleting from",
                        &edge.delete_sql,
                        &types,
                        &args,
                    )?;
                    edge_counts[ei].matched += deleted.len();
                    edge_counts[ei].first_reached += deleted.len();
                    for values in deleted {
                        let owner = owner(&values);
                        if let (UNATTRIBUTED, [Some(value)]) = (owner, values.as_slice()) {
                            let slot = Slot::Deleted(reach[edge.child].deleted.len());
                            pending.push((slot, value.clone()));
                        }
                        reach[edge.child].deleted.push(owner);
                    }
                } else {
                    let sql = match purpose {
                        Purpose::Erase => &edge.select_locked,
                        Purpose::Read => &edge.select_unlocked,
                        Purpose::Export => &edge.select_export,
                    };
                    let child = &plan.tables[edge.child].table;
                    for row in fetch(client, child, sql, &edge.param_types(), &args)? {
                        edge_counts[ei].matched += 1;
                        let values: Vec<Option<String>> = edge
                            .child_values
                            .iter()
                            .map(|p| row[p + 2].clone())
                            .collect();
                        let owner = owner(&values);
                        if reach[edge.child].add(&plan.tables[edge.child], row, owner) {
                            edge_counts[ei].first_reached += 1;
                            if let (UNATTRIBUTED, [Some(value)]) = (owner, values.as_slice()) {
                                let slot = Slot::Row(reach[edge.child].rows.len() - 1);
                                pending.push((slot, value.clone()));
                            }
                        }
                    }
                }
                if let (false, Some(match_type)) = (pending.is_empty(), &edge.match_type) {
                    let child = &plan.tables[edge.child].table;
                    for (slot, owner) in resolve_owners(
                        client,
                        child,
                        match_type,
                        &pending,
                        &parents_in_order,
                        &owners_in_order,
                    )? {
                        match slot {
                            Slot::Row(i) => reach[edge.child].owners[i] = owner,
                            Slot::Deleted(i) => reach[edge.child].deleted[i] = owner,
                        }
                    }
                }
            }
        }
        // Owned parents once everything below is known: whether another row uses one depends on all of them.
        if !progressed
            && !take_owned(
                client,
                plan,
                &mut reach,
                (&mut edge_counts, &mut owned_taken),
                purpose,
                attribute,
            )?
        {
            return Ok((reach, edge_counts));
        }
    }
}

/// Takes the parent rows of owned references that no row outside the reach references any more: the rows the
/// reached child rows reference, locked FOR UPDATE in a real erasure (a concurrent insert referencing one
/// waits, or is waited for and then counts), minus those any other row still uses. Returns whether any was new.
fn take_owned(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    reach: &mut [Reach],
    (edge_counts, taken): (&mut [EdgeCount], &mut [HashSet<Row>]),
    purpose: Purpose,
    attribute: bool,
) -> Result<bool> {
    let mut progressed = false;
    for (k, o) in plan.owned.iter().enumerate() {
        check_for_interrupts!();
        let mut owner_of: HashMap<Vec<String>, usize> = HashMap::new();
        let mut columns: Vec<Vec<String>> = vec![Vec::new(); o.child_values.len()];
        for (row, &owner) in reach[o.child].rows.iter().zip(&reach[o.child].owners) {
            if let Some((p, value)) = &o.discriminator {
                if row[p + 2].as_deref() != Some(value.as_str()) {
                    continue;
                }
            }
            if let Some(tuple) = values_at(row, &o.child_values) {
                if let std::collections::hash_map::Entry::Vacant(e) = owner_of.entry(tuple) {
                    for (c, v) in columns.iter_mut().zip(e.key()) {
                        c.push(v.clone());
                    }
                    e.insert(owner);
                }
            }
        }
        if columns.first().is_none_or(Vec::is_empty) {
            continue;
        }
        let parent = &plan.tables[o.parent];
        let sql = match purpose {
            Purpose::Erase => &o.select_locked,
            Purpose::Read => &o.select_unlocked,
            Purpose::Export => &o.select_export,
        };
        let types = vec![TEXT_ARRAY; columns.len()];
        let args: Vec<DatumWithOid<'_>> = columns.into_iter().map(Into::into).collect();
        let candidates = fetch(client, &parent.table, sql, &types, &args)?;
        for row in unused(client, plan, o, reach, candidates)? {
            let owner = if attribute {
                values_at(&row, &o.parent_values)
                    .and_then(|t| owner_of.get(&t).copied())
                    .unwrap_or(UNATTRIBUTED)
            } else {
                0
            };
            if taken[k].insert(row.clone()) {
                edge_counts[plan.edges.len() + k].matched += 1;
            }
            if reach[o.parent].add(parent, row, owner) {
                edge_counts[plan.edges.len() + k].first_reached += 1;
                progressed = true;
            }
        }
    }
    Ok(progressed)
}

/// The `candidates` (rows of an owned parent) that no row outside the reach references, through any reference.
fn unused(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    o: &OwnedEdge,
    reach: &[Reach],
    mut candidates: Vec<Row>,
) -> Result<Vec<Row>> {
    for x in &o.referrers {
        if candidates.is_empty() {
            break;
        }
        let columns = value_columns(candidates.iter(), &x.parent_values);
        if columns.first().is_none_or(Vec::is_empty) {
            continue;
        }
        let mut types = vec![TEXT_ARRAY; columns.len()];
        let mut args: Vec<DatumWithOid<'_>> = columns.into_iter().map(Into::into).collect();
        if let Some(value) = &x.discriminator {
            types.push(TEXT);
            args.push(value.clone().into());
        }
        if let Some(i) = x.index {
            // Rows the erasure deletes no longer use the parent; rows it anonymizes stay, and still do.
            let table = &plan.tables[i];
            let rows: &[Row] = if table.action == Action::Delete {
                &reach[i].rows
            } else {
                &[]
            };
            match &table.identity {
                Identity::Key(idx) => {
                    for p in idx {
                        let keys: Vec<Option<String>> =
                            rows.iter().map(|r| r[p + 2].clone()).collect();
                        types.push(TEXT_ARRAY);
                        args.push(keys.into());
                    }
                }
                Identity::Ctid => {
                    let ids: Vec<String> = rows
                        .iter()
                        .map(|r| {
                            format!(
                                "{}@{}",
                                r[0].as_deref().unwrap_or_default(),
                                r[1].as_deref().unwrap_or_default()
                            )
                        })
                        .collect();
                    types.push(TEXT_ARRAY);
                    args.push(ids.into());
                }
            }
        }
        let used: HashSet<Vec<String>> = fetch(client, &x.table, &x.sql, &types, &args)?
            .into_iter()
            .filter_map(|r| r.into_iter().collect::<Option<Vec<String>>>())
            .collect();
        candidates
            .retain(|row| values_at(row, &x.parent_values).is_none_or(|t| !used.contains(&t)));
    }
    Ok(candidates)
}

/// Where an unattributed row is: fetched (index into `Reach::rows`) or deleted directly (into `Reach::deleted`).
#[derive(Clone, Copy)]
enum Slot {
    Row(usize),
    Deleted(usize),
}

/// Owners for rows whose referencing value equals a parent's value by the type's equality but not as text
/// (`1.0` and `1`): the values compared in SQL (as the child table's owner — the operator is the type's code).
fn resolve_owners(
    client: &mut SpiClient<'_>,
    child: &Table,
    (type_sql, equals): &(String, String),
    pending: &[(Slot, String)],
    parents: &[String],
    parent_owners: &[usize],
) -> Result<Vec<(Slot, usize)>> {
    let sql = format!(
        "SELECT c.ord::text, p.ord::text FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS c(v, ord)
           JOIN pg_catalog.unnest($2::text[]) WITH ORDINALITY AS p(v, ord)
             ON CAST(c.v AS {type_sql}) {equals} CAST(p.v AS {type_sql})"
    );
    let values: Vec<String> = pending.iter().map(|(_, v)| v.clone()).collect();
    let mut resolved: HashMap<usize, usize> = HashMap::new();
    for row in fetch(
        client,
        child,
        &sql,
        &[TEXT_ARRAY, TEXT_ARRAY],
        &[values.into(), parents.to_vec().into()],
    )? {
        let ordinal = |i: usize| {
            row.get(i)
                .cloned()
                .flatten()
                .and_then(|o| o.parse::<usize>().ok())
        };
        if let (Some(c), Some(p)) = (ordinal(0), ordinal(1)) {
            if let Some(&owner) = parent_owners.get(p - 1) {
                resolved.entry(c - 1).or_insert(owner);
            }
        }
    }
    Ok(resolved
        .into_iter()
        .filter_map(|(c, owner)| pending.get(c).map(|(slot, _)| (*slot, owner)))
        .collect())
}

/// The identity parameters addressing `rows` of `table`: one set for a keyed table (a `text[]` per key
/// column), one per partition for a table addressed by ctid (ctids are unique only within one).
pub fn identity_args(table: &PlanTable, rows: &[Row]) -> Vec<Vec<DatumWithOid<'static>>> {
    match &table.identity {
        Identity::Key(idx) => vec![idx
            .iter()
            .map(|i| {
                rows.iter()
                    .map(|r| r[i + 2].clone())
                    .collect::<Vec<Option<String>>>()
                    .into()
            })
            .collect()],
        Identity::Ctid => {
            let mut by_relation: std::collections::BTreeMap<String, Vec<Option<String>>> =
                Default::default();
            for r in rows {
                by_relation
                    .entry(r[1].clone().unwrap_or_default())
                    .or_default()
                    .push(r[0].clone());
            }
            by_relation
                .into_iter()
                .map(|(relation, ctids)| vec![ctids.into(), relation.into()])
                .collect()
        }
    }
}

/// The subject rows (of the plan's root table) that `rows` of table `start` belong to: the reach walked
/// upwards, through every reference of the plan, until nothing new is found. What turns a row that matched a
/// search (a chatbot lead's phone) into the subject it is tied to (the session's guest).
pub fn owners(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    start: usize,
    rows: Vec<Row>,
) -> Result<Vec<Row>> {
    let mut reach: Vec<Reach> = plan.tables.iter().map(|_| Reach::default()).collect();
    for row in rows {
        reach[start].add(&plan.tables[start], row, 0);
    }
    loop {
        check_for_interrupts!();
        let mut progressed = false;
        for t in 1..plan.tables.len() {
            let (from, to) = (reach[t].followed, reach[t].rows.len());
            if from == to {
                continue;
            }
            reach[t].followed = to;
            progressed = true;
            let child = &plan.tables[t];
            for edge in plan.edges.iter().filter(|e| e.child == t) {
                let parent = &plan.tables[edge.parent];
                // The child's referencing values, read as the child's owner...
                let types = edge.child_refs_param_types(child);
                let mut values: HashSet<Vec<String>> = HashSet::new();
                for mut args in identity_args(child, &reach[t].rows[from..to]) {
                    if let Some(value) = &edge.discriminator {
                        args.push(value.clone().into());
                    }
                    for row in fetch(client, &child.table, &edge.select_child_refs, &types, &args)?
                    {
                        if let Some(tuple) = row.into_iter().collect::<Option<Vec<String>>>() {
                            values.insert(tuple);
                        }
                    }
                }
                if values.is_empty() {
                    continue;
                }
                // ...then the parent rows with those values, as the parent's owner.
                let mut columns: Vec<Vec<String>> = vec![Vec::new(); edge.child_cols.len()];
                for tuple in values {
                    for (c, v) in columns.iter_mut().zip(tuple) {
                        c.push(v);
                    }
                }
                let args: Vec<DatumWithOid<'_>> = columns.into_iter().map(Into::into).collect();
                let types = vec![TEXT_ARRAY; edge.child_cols.len()];
                for row in fetch(client, &parent.table, &edge.select_parents, &types, &args)? {
                    reach[edge.parent].add(parent, row, 0);
                }
            }
        }
        if !progressed {
            return Ok(std::mem::take(&mut reach[0].rows));
        }
    }
}

/// How each table's rows were reached in this reach: from the subject, through references that reached rows
/// first (`users ← activity_streams(o_id)`), never through one that matched none. A table the reach found no
/// row in keeps the plan's breadth-first path.
pub fn reached_paths(plan: &ErasurePlan, edge_counts: &[EdgeCount]) -> Vec<String> {
    let mut paths: Vec<Option<String>> = vec![None; plan.tables.len()];
    paths[0] = Some(plan.tables[0].table.display.clone());
    let mut changed = true;
    while changed {
        changed = false;
        for (e, count) in plan.edges.iter().zip(edge_counts) {
            if count.first_reached == 0 || paths[e.child].is_some() {
                continue;
            }
            if let Some(parent) = paths[e.parent].clone() {
                paths[e.child] = Some(format!(
                    "{parent} ← {}({})",
                    plan.tables[e.child].table.display,
                    e.child_cols.join(", ")
                ));
                changed = true;
            }
        }
        let owned_counts = edge_counts.get(plan.edges.len()..).unwrap_or_default();
        for (o, count) in plan.owned.iter().zip(owned_counts) {
            if count.first_reached == 0 || paths[o.parent].is_some() {
                continue;
            }
            if let Some(child) = paths[o.child].clone() {
                paths[o.parent] = Some(format!(
                    "{child} → {}({})",
                    plan.tables[o.parent].table.display,
                    o.parent_cols.join(", ")
                ));
                changed = true;
            }
        }
    }
    paths
        .into_iter()
        .zip(&plan.tables)
        .map(|(p, t)| p.unwrap_or_else(|| t.path.clone()))
        .collect()
}

/// A subject id has one value per column of the subject table's key.
pub fn check_key_length(plan: &ErasurePlan, id: &[String]) -> Result<()> {
    if id.len() != plan.root_key_len {
        return Err(GdprError::InvalidParameter(format!(
            "{} {}: the key of {} has {} columns, {} values were given",
            plan.kind,
            subject_label(id),
            plan.tables[0].table.display,
            plan.root_key_len,
            id.len()
        )));
    }
    Ok(())
}

/// The subject id in the key type's own text form (`0168` is bigint `168`, an upper-case uuid lower-case), or
/// 22P02 naming the value: the form erasures are logged under and consents recorded for, whatever the caller
/// typed. Call after checking the caller's entitlement: the cast may run the table owner's code (a domain).
pub fn check_key_values(plan: &ErasurePlan, id: &[String]) -> Result<Vec<String>> {
    let mut canonical = Vec::with_capacity(id.len());
    for (value, type_sql) in id.iter().zip(&plan.root_key_types) {
        match canonical_key(value, type_sql, &plan.tables[0].table)? {
            Some(v) => canonical.push(v),
            None => {
                return Err(GdprError::InvalidTextRepresentation(format!(
                    "{} id \"{value}\" is not a valid {type_sql} (the key of {})",
                    plan.kind, plan.tables[0].table.display
                )))
            }
        }
    }
    Ok(canonical)
}

/// How a subject id is written in reports, the erasure log and consents: the value of a one-column key, a JSON
/// array of the values for a composite key (unambiguous: `["a,b","c"]` is not `["a","b,c"]`).
pub fn subject_label(id: &[String]) -> String {
    match id {
        [single] => single.clone(),
        _ => serde_json::to_string(id).unwrap_or_default(),
    }
}

/// The subject's key as stored (`7.00` for a numeric(8,2) key given as `7`), from its found row: the label its
/// erasures are logged under, whatever form the caller typed. None if the subject was not found.
pub fn stored_label(plan: &ErasurePlan, root: &Reach) -> Option<String> {
    root.rows.first().and_then(|row| row_label(plan, row))
}

/// A found row's key as text: its primary key values, or `[tableoid, ctid]` for a table without one.
pub fn row_key(table: &PlanTable, row: &Row) -> Option<Vec<String>> {
    match &table.identity {
        Identity::Key(key) => key.iter().map(|i| row[i + 2].clone()).collect(),
        Identity::Ctid => [row[1].clone(), row[0].clone()].into_iter().collect(),
    }
}

/// The label of a found row of the plan's root table: its key as stored.
pub fn row_label(plan: &ErasurePlan, row: &Row) -> Option<String> {
    let Identity::Key(idx) = &plan.tables[0].identity else {
        return None;
    };
    let key: Option<Vec<String>> = idx.iter().map(|i| row[i + 2].clone()).collect();
    key.map(|k| subject_label(&k))
}

/// `value` as the key type's text form, or None if it is not valid input: integers are parsed here, other types
/// cast in a subtransaction (gdpr._canonical_input) as the subject table's owner (a domain's CHECK is its code).
fn canonical_key(value: &str, type_sql: &str, table: &Table) -> Result<Option<String>> {
    let parsed = match type_sql {
        "bigint" => Some(value.trim().parse::<i64>().ok().map(|n| n.to_string())),
        "integer" => Some(value.trim().parse::<i32>().ok().map(|n| n.to_string())),
        "smallint" => Some(value.trim().parse::<i16>().ok().map(|n| n.to_string())),
        "text" => Some(Some(value.to_string())),
        _ => None,
    };
    match parsed {
        Some(canonical) => Ok(canonical),
        None => as_table_owner(table, "checking a key of", || {
            Ok(Spi::get_one_with_args::<String>(
                "SELECT gdpr._canonical_input($1, $2::regtype)",
                &[value.into(), type_sql.into()],
            )?)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{Reach, UNATTRIBUTED};

    #[test]
    fn rows_are_counted_for_the_subject_that_reached_them() {
        let reach = Reach {
            rows: vec![Vec::new(); 4],
            owners: vec![0, 1, 1, UNATTRIBUTED],
            deleted: vec![2, 0],
            ..Reach::default()
        };
        assert_eq!(reach.count(), 6);
        // The unattributed row is erased and counted in the table's total, but for no subject.
        assert_eq!(reach.count_by_owner(3), vec![2, 2, 1]);
    }
}
