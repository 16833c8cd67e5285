//! An erasure plan: for one kind of subject, every reachable table with the statements that find its rows
//! (from the keys of already-found parent rows) and that anonymize or delete them. Built from the catalogs
//! once per backend and reused until a relevant catalog change (see `cache`).

use std::collections::{HashMap, HashSet};

use pgrx::prelude::*;

mod delete_order;
mod owned;
mod sql;

pub use delete_order::CycleKey;
use delete_order::{children_first, reversed_keys};
use owned::{owned_edge, owned_parts, owned_path};
pub use owned::{OwnedEdge, Referrer};
use sql::{export_expr, match_text_values, row_lock, select_root_sql, select_sql, select_sql_with};
pub use sql::{match_exprs, match_values, statements, BYTEA, TEXT, TEXT_ARRAY};

use super::graph;
use crate::catalog::introspect::{self, Column, Table};
use crate::catalog::Policy;
use crate::error::{GdprError, Result};
use crate::strategy::Options;
use crate::strategy::{self, Param};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Anonymize,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Anonymize => "anonymize",
            Action::Delete => "delete",
        }
    }
}

/// How a found row is addressed again by the UPDATE/DELETE: by primary key, or by (tableoid, ctid) for tables
/// without one (the rows are locked FOR UPDATE between finding and changing them).
#[derive(Debug)]
pub enum Identity {
    Key(Vec<usize>),
    Ctid,
}

#[derive(Debug)]
pub struct PlanTable {
    pub table: Table,
    pub action: Action,
    /// Columns fetched for every found row (as text): identity columns and columns other tables reference.
    /// Positions 0 and 1 of a fetched row are ctid and tableoid; column i is at position i + 2.
    pub fetched: Vec<Column>,
    pub identity: Identity,
    /// Columns an anonymize erasure changes (empty: nothing declared to change).
    pub changed: Vec<String>,
    /// `UPDATE ... SET col = <strategy expr> ... WHERE <identity>`; None when nothing is to change.
    pub update_sql: Option<String>,
    /// Parameter values of the strategy expressions (after the identity parameters and the key).
    pub update_params: Vec<Param>,
    pub delete_sql: String,
    /// Number of identity parameters of `update_sql` / `delete_sql`.
    pub identity_params: usize,
    /// `public.guests ← public.chat_sessions(guest_id) ← ...`: how the table was first reached.
    pub path: String,
    /// Declared PII columns whose values `scrub` must look for. Empty unless the plan scrubs.
    pub identifier_columns: Vec<IdentifierColumn>,
    /// A leaf erased by delete whose rows nothing else needs (no identifiers, no markers): a real erasure
    /// deletes its rows straight from the parent keys (`PlanEdge::delete_sql`); a dry run finds them.
    pub delete_directly: bool,
    /// Reached, but nothing changes in it and nothing depends on finding its rows (a `keep` leaf such as a
    /// tag link): a real erasure does not look for its rows; a dry run does, to report them.
    pub skip_when_erasing: bool,
    /// Column sets other rows reference this table's rows by (the key for the root): an erasure records the
    /// erased rows' values of each in `gdpr.erased_row` for the erased-subject guard.
    pub markers: Vec<Marker>,
    /// `WHERE` condition on alias `t` selecting rows by identity (the first `identity_params` parameters).
    pub identity_predicate: String,
    /// Every declared PII column with its data category (see strategy::category), in column order.
    pub categories: Vec<Categorized>,
}

/// A declared PII column and what kind of personal data it holds.
#[derive(Debug, Clone)]
pub struct Categorized {
    pub column: Column,
    pub category: &'static str,
}

#[derive(Debug, Clone)]
pub struct Marker {
    pub cols: Vec<String>,
    /// Positions in the fetched row.
    pub positions: Vec<usize>,
}

#[derive(Debug)]
pub struct PlanEdge {
    pub child: usize,
    pub parent: usize,
    /// Positions (in the parent's fetched row) of the referenced columns.
    pub parent_values: Vec<usize>,
    /// Positions (in the child's fetched row) of the referencing columns.
    pub child_values: Vec<usize>,
    /// For a one-column reference between columns of one type: that type and its equality operator. Rows are
    /// attributed to subjects by the text of their values; where a type's equality is not textual (numeric
    /// `1.0 = 1`, citext) the values that matched no parent's text are compared with it.
    pub match_type: Option<(String, String)>,
    /// `SELECT` of child rows whose columns match the given value arrays, locked / unlocked.
    pub select_locked: String,
    pub select_unlocked: String,
    /// `select_unlocked` with the whole row as the last column: an export reads each row in the statement
    /// that reaches it, so what it shows is what reached the subject.
    pub select_export: String,
    pub discriminator: Option<String>,
    /// The column the discriminator value is compared with (a polymorphic link's type column).
    pub discriminator_column: Option<String>,
    pub child_cols: Vec<String>,
    pub label: String,
    pub blocks_delete: bool,
    /// The FOREIGN KEY's ON DELETE (a, r, c, n, d; blank for a link), and whether a referencing column is NOT
    /// NULL (ON DELETE SET NULL then fails).
    pub on_delete: char,
    pub child_not_null: bool,
    /// `DELETE` of the child rows matching the given values: how a real erasure empties a leaf table that is
    /// erased by delete (one statement instead of finding the rows, then deleting them by key). It returns the
    /// deleted rows' referencing values, which tell whose rows they were.
    pub delete_sql: String,
    /// The reach walked upwards, from a row that matched a search to the subject it belongs to, in two
    /// statements so that each table is read as its own owner: `select_child_refs` reads the referencing
    /// values of given child rows (by identity, then the discriminator value) from the child table,
    /// `select_parents` the parent rows with those values (one `text[]` per column).
    pub select_child_refs: String,
    pub select_parents: String,
}

#[derive(Debug)]
pub struct ErasurePlan {
    pub kind: String,
    pub tables: Vec<PlanTable>,
    pub edges: Vec<PlanEdge>,
    /// The subject's key columns (positions in the root table's fetched row).
    pub root_select_locked: String,
    pub root_select_unlocked: String,
    pub root_select_export: String,
    pub root_key_len: usize,
    /// `format_type` of each subject key column, to validate ids before they reach a cast.
    pub root_key_types: Vec<String>,
    /// Delete tables, children before parents.
    pub delete_order: Vec<usize>,
    /// Some column is scrubbed: the subject's identifiers must be collected while finding rows.
    pub needs_identifiers: bool,
    /// Parent rows of the subject outside the reach (a session's guest) whose PII `scrub` also looks for.
    pub identifier_sources: Vec<IdentifierSource>,
    /// Excluded FOREIGN KEYs (NO ACTION / RESTRICT) onto the plan's tables: rows of theirs that still reference
    /// rows the erasure deletes make it fail — found before anything changes, in dry runs too.
    pub excluded_referrers: Vec<ExcludedReferrer>,
    /// Owned references, followed upwards from reached rows to the parent rows they alone use.
    pub owned: Vec<OwnedEdge>,
    /// References onto the plan's tables not followed because of a rule on their column name, for reports.
    pub excluded_by_rule: Vec<String>,
    /// Keys that point against the delete order (a cycle): unlinked before the deletes, or refused.
    pub delete_cycles: Vec<CycleKey>,
    /// Deferrable constraints the erasure's changes may fire, with whether each is INITIALLY DEFERRED.
    pub deferrable: Vec<(String, bool)>,
}

#[derive(Debug)]
pub struct ExcludedReferrer {
    /// The referenced plan table and the positions (in its fetched rows) of the referenced columns.
    pub parent: usize,
    pub parent_values: Vec<usize>,
    pub child: Table,
    /// The plan table of the referencing table, if the erasure reaches it another way (its reached rows go
    /// with the erasure and do not count).
    pub child_index: Option<usize>,
    /// Counts referencing rows: `$1..` one `text[]` per referenced column; then, with `child_index`, the
    /// child's identity arrays of rows not to count.
    pub count_sql: String,
    pub label: String,
    /// What PostgreSQL does to the referencing rows when the erasure deletes theirs: `no action` and
    /// `restrict` refuse (the erasure fails up front); `cascade`, `set null`, `set default` change rows the
    /// erasure did not reach (reported).
    pub on_delete: &'static str,
    /// A referencing column is NOT NULL (ON DELETE SET NULL then fails).
    pub child_not_null: bool,
}

impl ExcludedReferrer {
    pub fn refuses(&self) -> bool {
        matches!(self.on_delete, "no action" | "restrict")
    }
}

/// A declared PII column whose values `scrub` looks for.
#[derive(Debug)]
pub struct IdentifierColumn {
    /// Position in the fetched row (or in an identifier source's row).
    pub position: usize,
    /// Placeholder kind (`email`, `name`, …).
    pub kind: &'static str,
    /// json/jsonb: look at the strings inside.
    pub json: bool,
    /// The options of a `jsonb` policy: strings under kept keys are not personal.
    pub jsonb_rules: Option<Options>,
}

impl IdentifierColumn {
    fn new(
        position: usize,
        col: &Column,
        strategy_name: &str,
        options: &Options,
    ) -> IdentifierColumn {
        IdentifierColumn {
            position,
            kind: strategy::identifier_kind_of_policy(strategy_name, &col.name, options),
            json: col.type_sql == "jsonb" || col.type_sql == "json",
            jsonb_rules: (strategy_name == "jsonb").then(|| options.clone()),
        }
    }
}

/// The declared PII columns of `table` whose values are identifiers for `scrub`: text and json columns with a
/// policy that changes them (not `keep`, and not `scrub` itself), with their strategy and options.
fn identifier_sources_of<'a>(
    table: &Table,
    policies: Option<&'a Vec<Policy>>,
) -> Vec<(Column, &'a str, &'a Options)> {
    policies
        .into_iter()
        .flatten()
        .filter(|(_, strategy_name, options)| {
            strategy_name != "keep" && !strategy::scrubs(strategy_name, options)
        })
        .filter_map(|(col_name, strategy_name, options)| {
            let col = introspect::column(table, col_name).ok()?;
            let text_like =
                col.category == "S" || col.type_sql == "jsonb" || col.type_sql == "json";
            text_like.then_some((col, strategy_name.as_str(), options))
        })
        .collect()
}

/// Reads the declared PII of the rows the subject's row references (never changes them).
#[derive(Debug)]
pub struct IdentifierSource {
    /// The parent table read (as its owner).
    pub table: Table,
    /// `SELECT <pii columns as text> FROM parent WHERE <parent columns match $1..>`.
    pub select: String,
    /// Positions (in the root's fetched row) of the referencing columns.
    pub root_values: Vec<usize>,
    /// What each selected column is (positions are column indexes of `select`).
    pub columns: Vec<IdentifierColumn>,
}

struct Declarations {
    actions: HashMap<pg_sys::Oid, Action>,
    policies: HashMap<pg_sys::Oid, Vec<Policy>>,
    traces_declared: bool,
}

fn load_declarations() -> Result<Declarations> {
    let policies = crate::catalog::policies()?;
    let actions = Spi::connect(|client| {
        let mut actions = HashMap::new();
        for r in client.select("SELECT tbl::oid, action FROM gdpr.erase_action", None, &[])? {
            let oid = r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID);
            let action = if r.get::<String>(2)?.as_deref() == Some("delete") {
                Action::Delete
            } else {
                Action::Anonymize
            };
            actions.insert(oid, action);
        }
        Ok::<_, GdprError>(actions)
    })?;
    let traces_declared =
        Spi::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM gdpr.trace)")?.unwrap_or(false);
    Ok(Declarations {
        actions,
        policies,
        traces_declared,
    })
}

/// Per reached table: the table, its fetched columns, its identity and its primary key.
type TableInfo = (Table, Vec<Column>, Identity, Vec<Column>);

/// Finds the subject table of `kind`.
fn subject_table(kind: &str) -> Result<pg_sys::Oid> {
    Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT (SELECT tbl::oid FROM gdpr.subject WHERE kind = $1)",
        &[kind.into()],
    )?
    .ok_or_else(|| {
        GdprError::UndefinedObject(format!(
            "no subject kind \"{kind}\" is declared (see gdpr.declare_subject)"
        ))
    })
}

fn position(fetched: &mut Vec<Column>, col: &Column) -> usize {
    match fetched.iter().position(|c| c.name == col.name) {
        Some(i) => i,
        None => {
            fetched.push(col.clone());
            fetched.len() - 1
        }
    }
}

/// An edge's referencing columns as text, the condition on its referenced columns, and its discriminator column
/// (name, type).
type EdgeColumns = (Vec<String>, String, Option<(String, String, String)>);

/// The erasure plan of a declared subject kind.
pub fn build(kind: &str) -> Result<ErasurePlan> {
    build_rooted(kind, subject_table(kind)?, None)
}

/// An erasure plan rooted at any table with a primary key (`kind` labels reports and the log): erases the
/// given rows and everything tied to them, e.g. the rows collected under a withdrawn consent.
/// `root_action` overrides the root table's declared action (a retention period's `delete` or `anonymize`); a
/// root deleted that way records no marker of its own key (expired rows are not subjects to guard against),
/// only those of the columns other reached tables reference, as for any erased parent.
pub fn build_rooted(
    kind: &str,
    root: pg_sys::Oid,
    root_action: Option<Action>,
) -> Result<ErasurePlan> {
    let _memo = introspect::memo();
    let graph = graph::load()?;
    let all_refs = graph.all.clone();
    let excluded_by_rule_refs = graph.excluded_by_rule.clone();
    let graph::Reach {
        order,
        refs,
        up,
        owned,
        owned_only,
    } = graph::reachable_owning(root, graph);
    introspect::prefetch_columns(&order)?;
    let mut decl = load_declarations()?;
    if let Some(action) = root_action {
        decl.actions.insert(root, action);
    }
    let root_key_marked = root_action != Some(Action::Delete);
    let index: HashMap<pg_sys::Oid, usize> =
        order.iter().enumerate().map(|(i, o)| (*o, i)).collect();

    // Scrubbed columns replace the subject's identifiers; declared trace columns are searched for them.
    let needs_identifiers = decl.traces_declared
        || order.iter().any(|oid| {
            decl.policies.get(oid).is_some_and(|ps| {
                ps.iter()
                    .any(|(_, s, options)| strategy::scrubs(s, options))
            })
        });

    // Per table: identity, the columns other tables reference, and the subject's identifiers to collect.
    let mut tables_info: Vec<TableInfo> = Vec::new();
    let mut identifier_columns = Vec::new();
    for oid in &order {
        let table = introspect::table(*oid)?;
        let pk = introspect::primary_key(&table)?;
        let mut fetched = Vec::new();
        let identity = if pk.is_empty() {
            Identity::Ctid
        } else {
            Identity::Key(pk.iter().map(|c| position(&mut fetched, c)).collect())
        };
        let mut identifiers = Vec::new();
        if needs_identifiers {
            for (col, strategy_name, options) in
                identifier_sources_of(&table, decl.policies.get(oid))
            {
                let position = position(&mut fetched, &col);
                identifiers.push(IdentifierColumn::new(
                    position,
                    &col,
                    strategy_name,
                    options,
                ));
            }
        }
        identifier_columns.push(identifiers);
        tables_info.push((table, fetched, identity, pk));
    }
    let mut identifier_sources = Vec::new();
    if needs_identifiers {
        for r in &up {
            let parent = introspect::table(r.parent)?;
            let selected: Vec<(Column, IdentifierColumn)> =
                identifier_sources_of(&parent, decl.policies.get(&r.parent))
                    .into_iter()
                    .enumerate()
                    .map(|(i, (col, strategy_name, options))| {
                        let ic = IdentifierColumn::new(i, &col, strategy_name, options);
                        (col, ic)
                    })
                    .collect();
            if selected.is_empty() {
                continue;
            }
            let parent_cols = introspect::columns(&parent, &r.parent_cols)?;
            let child_cols = introspect::columns(&tables_info[0].0, &r.child_cols)?;
            let root_values = child_cols
                .iter()
                .map(|c| position(&mut tables_info[0].1, c))
                .collect();
            let list: Vec<String> = selected
                .iter()
                .map(|(c, _)| format!("t.{}::text", c.sql_name))
                .collect();
            identifier_sources.push(IdentifierSource {
                select: format!(
                    "SELECT {} FROM {} AS t WHERE {}",
                    list.join(", "),
                    parent.sql_name,
                    match_values(&parent_cols.iter().collect::<Vec<_>>(), 1)
                ),
                root_values,
                columns: selected.into_iter().map(|(_, ic)| ic).collect(),
                table: parent,
            });
        }
    }

    let export_exprs: Vec<String> = tables_info
        .iter()
        .map(|(table, ..)| export_expr(table))
        .collect::<Result<_>>()?;
    let root_key_len = tables_info[0].3.len();
    if root_key_len == 0 {
        return Err(GdprError::InvalidDefinition(format!(
            "subject table {} of kind \"{kind}\" no longer has a primary key",
            tables_info[0].0.display
        )));
    }

    // Excluded foreign keys that would refuse the deletes: their referenced columns are fetched too.
    let mut excluded_keys = Vec::new();
    for k in graph::excluded_keys_onto(&order)? {
        let Some(&parent) = index.get(&k.parent) else {
            continue;
        };
        let parent_cols = introspect::columns(&tables_info[parent].0, &k.parent_cols)?;
        let parent_values: Vec<usize> = parent_cols
            .iter()
            .map(|c| position(&mut tables_info[parent].1, c))
            .collect();
        excluded_keys.push((k, parent, parent_values));
    }

    let owned_parts = owned_parts(&owned, &all_refs, &index, &mut tables_info)?;

    // Deletes go children first along the FOREIGN KEYs between the plan's tables — excluded ones too (an
    // exclusion means "do not follow", not "does not exist"); declared links constrain nothing in the database.
    let actions: Vec<Action> = order
        .iter()
        .map(|o| decl.actions.get(o).copied().unwrap_or(Action::Anonymize))
        .collect();
    let foreign_keys = graph::foreign_keys_between(&order)?;
    let references: Vec<(usize, usize)> = foreign_keys
        .iter()
        .map(|k| (index[&k.child], index[&k.parent]))
        .collect();
    let delete_order = children_first(&actions, &references);
    let cycle_parts = reversed_keys(&foreign_keys, &index, &delete_order, &mut tables_info)?;
    let deferrable = graph::deferrable_constraints(&order)?;

    let mut edges = Vec::new();
    let mut edge_child_cols: Vec<Vec<Column>> = Vec::new();
    for r in &refs {
        let (child, parent) = (index[&r.child], index[&r.parent]);
        let child_cols = introspect::columns(&tables_info[child].0, &r.child_cols)?;
        let parent_cols = introspect::columns(&tables_info[parent].0, &r.parent_cols)?;
        let parent_values = parent_cols
            .iter()
            .map(|c| position(&mut tables_info[parent].1, c))
            .collect();
        // Fetched too: a found child row tells which parent row (and so which subject) it was reached from.
        let child_values: Vec<usize> = child_cols
            .iter()
            .map(|c| position(&mut tables_info[child].1, c))
            .collect();
        let discriminator_col = match &r.discriminator {
            Some((col, _)) => Some(introspect::column(&tables_info[child].0, col)?),
            None => None,
        };
        edges.push((
            r.clone(),
            child,
            parent,
            (parent_values, child_values),
            discriminator_col,
        ));
        edge_child_cols.push(child_cols);
    }
    // For the upward walk: per edge, the child's referencing columns as text (and the discriminator column),
    // and the condition on the parent's referenced columns for those values.
    let mut edge_columns: Vec<EdgeColumns> = Vec::new();
    for ((r, _, parent, _, disc_col), child_cols) in edges.iter().zip(&edge_child_cols) {
        let parent_cols = introspect::columns(&tables_info[*parent].0, &r.parent_cols)?;
        // Same types compare through the parent's type (its key index serves it); a link between different
        // types (a text reference to a bigint key) compares text forms: a child value need not be a valid key.
        let same = child_cols
            .iter()
            .zip(&parent_cols)
            .all(|(c, p)| c.type_sql == p.type_sql);
        let parent_refs: Vec<&Column> = parent_cols.iter().collect();
        edge_columns.push((
            child_cols
                .iter()
                .map(|c| format!("t.{}::text", c.sql_name))
                .collect(),
            if same {
                match_values(&parent_refs, 1)
            } else {
                match_text_values(&parent_refs, 1)
            },
            disc_col.as_ref().map(|c| {
                (
                    c.sql_name.clone(),
                    format!("{} CAST", c.equals),
                    c.compare_type.clone(),
                )
            }),
        ));
    }

    // Rows other reached rows point at are locked FOR UPDATE, which waits for (and blocks) the FOR KEY SHARE
    // locks that foreign-key checks and the erased-subject guard take: a concurrent insert of a row
    // referencing them is either seen by this erasure or sees its markers (see guard.rs).
    let referenced: HashSet<usize> = edges.iter().map(|(_, _, parent, _, _)| *parent).collect();

    // Statements (now that every table's fetched columns are known).
    let mut plan_edges = Vec::new();
    for ((r, child, parent, (parent_values, child_values), disc_col), child_cols) in
        edges.into_iter().zip(edge_child_cols)
    {
        let cols: Vec<&Column> = child_cols.iter().collect();
        let parent_cols = introspect::columns(&tables_info[parent].0, &r.parent_cols)?;
        let match_type = match (child_cols.as_slice(), parent_cols.as_slice()) {
            ([c], [p]) if c.type_sql == p.type_sql => {
                Some((p.compare_type.clone(), p.equals.clone()))
            }
            _ => None,
        };
        let mut predicate = match_values(&cols, 1);
        if let Some(dc) = &disc_col {
            predicate.push_str(&format!(
                " AND t.{} {} CAST(${} AS {})",
                dc.sql_name,
                dc.equals,
                cols.len() + 1,
                dc.compare_type
            ));
        }
        let (table, fetched, _, _) = &tables_info[child];
        let child_action = decl
            .actions
            .get(&table.oid)
            .copied()
            .unwrap_or(Action::Anonymize);
        let lock = row_lock(child_action, referenced.contains(&child));
        plan_edges.push(PlanEdge {
            child,
            parent,
            parent_values,
            child_values,
            match_type,
            select_locked: select_sql(table, fetched, &predicate, Some(lock)),
            select_unlocked: select_sql(table, fetched, &predicate, None),
            select_export: select_sql_with(
                table,
                fetched,
                &predicate,
                None,
                Some(&export_exprs[child]),
            ),
            delete_sql: format!(
                "DELETE FROM {} AS t WHERE {predicate} RETURNING {}",
                table.sql_name,
                child_cols
                    .iter()
                    .map(|c| format!("t.{}::text", c.sql_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            // Completed once every table's fetched columns and identity are known.
            select_child_refs: String::new(),
            select_parents: String::new(),
            discriminator: r.discriminator.as_ref().map(|(_, v)| v.clone()),
            discriminator_column: r.discriminator.as_ref().map(|(c, _)| c.clone()),
            child_cols: r.child_cols.clone(),
            label: format!(
                "{}({}) → {}({}) by {}",
                table.display,
                r.child_cols.join(", "),
                tables_info[parent].0.display,
                r.parent_cols.join(", "),
                r.label
            ),
            blocks_delete: r.blocks_delete,
            on_delete: r.on_delete,
            child_not_null: child_cols.iter().any(|c| c.not_null),
        });
    }

    // How each table was first reached (breadth-first), for the dry-run report.
    let mut paths: Vec<String> = vec![String::new(); order.len()];
    paths[0] = tables_info[0].0.display.clone();
    for (i, _) in order.iter().enumerate().skip(1) {
        if let Some(e) = plan_edges.iter().find(|e| e.child == i && e.parent < i) {
            paths[i] = format!(
                "{} ← {}({})",
                paths[e.parent],
                tables_info[i].0.display,
                e.child_cols.join(", ")
            );
        } else if let Some(o) = owned_parts.iter().find(|o| o.parent == i && o.child < i) {
            paths[i] = owned_path(&paths[o.child], &tables_info[i].0, &o.reference);
        }
    }

    let root_cols: Vec<&Column> = match &tables_info[0].2 {
        Identity::Key(idx) => idx.iter().map(|i| &tables_info[0].1[*i]).collect(),
        Identity::Ctid => Vec::new(),
    };
    let root_action = decl
        .actions
        .get(&root)
        .copied()
        .unwrap_or(Action::Anonymize);
    let root_lock = row_lock(root_action, true);
    let root_key_types = root_cols.iter().map(|c| c.compare_type.clone()).collect();
    let (root_table, root_fetched) = (&tables_info[0].0, &tables_info[0].1);
    let root_select_locked =
        select_root_sql(root_table, root_fetched, &root_cols, Some(root_lock), None);
    let root_select_unlocked = select_root_sql(root_table, root_fetched, &root_cols, None, None);
    let root_select_export = select_root_sql(
        root_table,
        root_fetched,
        &root_cols,
        None,
        Some(&export_exprs[0]),
    );

    let mut markers: Vec<Vec<Marker>> = vec![Vec::new(); tables_info.len()];
    if let (Identity::Key(idx), true) = (&tables_info[0].2, root_key_marked) {
        markers[0].push(Marker {
            cols: idx
                .iter()
                .map(|i| tables_info[0].1[*i].name.clone())
                .collect(),
            positions: idx.clone(),
        });
    }
    for e in &plan_edges {
        if !markers[e.parent]
            .iter()
            .any(|m| m.positions == e.parent_values)
        {
            let fetched = &tables_info[e.parent].1;
            markers[e.parent].push(Marker {
                cols: e
                    .parent_values
                    .iter()
                    .map(|p| fetched[*p].name.clone())
                    .collect(),
                positions: e.parent_values.clone(),
            });
        }
    }

    // A table only an owned reference reaches holds no subject's rows: its keys are not guarded (a blob
    // uploaded again later, under the same content hash, is new data).
    for (i, oid) in order.iter().enumerate() {
        if owned_only.contains(oid) {
            markers[i].clear();
        }
    }

    let mut tables = Vec::new();
    for ((((table, fetched, identity, _), path), identifier_columns), markers) in tables_info
        .into_iter()
        .zip(paths)
        .zip(identifier_columns)
        .zip(markers)
    {
        let action = decl
            .actions
            .get(&table.oid)
            .copied()
            .unwrap_or(Action::Anonymize);
        let (identity_pred, identity_params) = match &identity {
            Identity::Key(idx) => {
                let cols: Vec<&Column> = idx.iter().map(|i| &fetched[*i]).collect();
                (match_values(&cols, 1), cols.len())
            }
            Identity::Ctid => (
                "t.ctid = ANY (CAST($1 AS tid[])) AND t.tableoid = CAST($2 AS oid)".to_string(),
                2,
            ),
        };
        let policies = decl
            .policies
            .get(&table.oid)
            .map(Vec::as_slice)
            .unwrap_or_default();
        crate::catalog::check_policies_fit(&table, policies)?;
        let set = strategy::set_list(&table, policies, identity_params + 1)?;
        let update_sql = (!set.assignments.is_empty()).then(|| {
            format!(
                "UPDATE {} AS t SET {} WHERE {identity_pred}",
                table.sql_name,
                set.assignments.join(", ")
            )
        });
        let delete_sql = format!("DELETE FROM {} AS t WHERE {identity_pred}", table.sql_name);
        let mut categories = Vec::new();
        // `keep` declares a column not personal: no category of personal data.
        for (col_name, strategy_name, options) in policies.iter().filter(|(_, s, _)| s != "keep") {
            let column = introspect::column(&table, col_name)?;
            let category =
                strategy::category::of_policy(&table.display, &column, strategy_name, options)?;
            categories.push(Categorized { column, category });
        }
        tables.push(PlanTable {
            identity_predicate: identity_pred.clone(),
            categories,
            table,
            action,
            fetched,
            identity,
            changed: set.columns,
            update_sql,
            update_params: set.params,
            delete_sql,
            identity_params,
            path,
            identifier_columns,
            markers,
            skip_when_erasing: false,
            delete_directly: false,
        });
    }
    for i in 1..tables.len() {
        let t = &tables[i];
        // Deleted straight from its parents' keys while the reach is walked — before any other table's rows:
        // only if no other table of the plan references it through a FOREIGN KEY (a file an attachment row
        // points at must outlive that row's deletion).
        let leaf = !plan_edges.iter().any(|e| e.parent == i)
            && !references
                .iter()
                .any(|&(child, parent)| parent == i && child != i);
        // Rows an owned reference starts from, or that keep an owned parent in use, must be found to be told
        // apart from rows outside the erasure.
        let owned_needs_rows = owned_parts
            .iter()
            .any(|o| o.child == i || o.referrers.iter().any(|x| x.index == Some(i)));
        // Rows an excluded foreign key still points at are counted before the deletes: found, not deleted blind.
        let excluded_referenced = excluded_keys.iter().any(|(_, parent, _)| *parent == i);
        let leaf = leaf && !owned_needs_rows && !excluded_referenced;
        let guards_a_delete = plan_edges
            .iter()
            .any(|e| e.child == i && e.blocks_delete && tables[e.parent].action == Action::Delete);
        tables[i].delete_directly = t.action == Action::Delete
            && t.identifier_columns.is_empty()
            && t.markers.is_empty()
            && leaf;
        let t = &tables[i];
        tables[i].skip_when_erasing = t.action == Action::Anonymize
            && t.update_sql.is_none()
            && t.identifier_columns.is_empty()
            && leaf
            && !guards_a_delete;
    }

    for (e, (child_refs, parent_match, disc)) in plan_edges.iter_mut().zip(edge_columns) {
        let (child, parent) = (&tables[e.child], &tables[e.parent]);
        let mut refs = format!(
            "SELECT {} FROM {} AS t WHERE {}",
            child_refs.join(", "),
            child.table.sql_name,
            child.identity_predicate
        );
        if let Some((col, equals_cast, type_sql)) = disc {
            refs.push_str(&format!(
                " AND t.{col} {equals_cast}(${} AS {type_sql})",
                child.identity_params + 1
            ));
        }
        e.select_child_refs = refs;
        e.select_parents = parent.select_identity(&parent_match, &[]);
    }

    let delete_cycles = cycle_parts.into_iter().map(|c| c.finish(&tables)).collect();
    let mut excluded_referrers = Vec::new();
    for (k, parent, parent_values) in excluded_keys {
        let child = introspect::table(k.child)?;
        let child_cols = introspect::columns(&child, &k.child_cols)?;
        let cols: Vec<&Column> = child_cols.iter().collect();
        let child_index = index.get(&k.child).copied();
        let mut count_sql = format!(
            "SELECT count(*)::text FROM {} AS t WHERE {}",
            child.sql_name,
            match_values(&cols, 1)
        );
        if let Some(c) = child_index {
            if let Identity::Key(idx) = &tables[c].identity {
                let key: Vec<&Column> = idx.iter().map(|i| &tables[c].fetched[*i]).collect();
                count_sql.push_str(&format!(" AND NOT {}", match_values(&key, cols.len() + 1)));
            }
        }
        excluded_referrers.push(ExcludedReferrer {
            child_not_null: child_cols.iter().any(|c| c.not_null),
            on_delete: match k.on_delete {
                'r' => "restrict",
                'c' => "cascade",
                'n' => "set null",
                'd' => "set default",
                _ => "no action",
            },
            parent,
            parent_values,
            label: format!(
                "{}({}) → {}({}) by foreign key {}",
                child.display,
                k.child_cols.join(", "),
                tables[parent].table.display,
                k.parent_cols.join(", "),
                k.name
            ),
            child,
            child_index,
            count_sql,
        });
    }
    let owned = owned_parts
        .into_iter()
        .map(|o| owned_edge(o, &tables, &export_exprs))
        .collect();
    let excluded_by_rule = excluded_by_rule_refs
        .iter()
        .filter(|r| index.contains_key(&r.parent))
        .map(|r| {
            let child = introspect::table(r.child)?;
            Ok(format!(
                "{}({}) → {}({}) by {}",
                child.display,
                r.child_cols.join(", "),
                tables[index[&r.parent]].table.display,
                r.parent_cols.join(", "),
                r.label
            ))
        })
        .collect::<Result<Vec<String>>>()?;
    Ok(ErasurePlan {
        delete_cycles,
        deferrable,
        owned,
        excluded_by_rule,
        kind: kind.to_string(),
        tables,
        edges: plan_edges,
        root_select_locked,
        root_select_unlocked,
        root_select_export,
        root_key_len,
        root_key_types,
        delete_order,
        needs_identifiers,
        identifier_sources,
        excluded_referrers,
    })
}
