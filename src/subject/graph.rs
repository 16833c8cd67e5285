//! The reference graph: which rows belong to which. Edges come from FOREIGN KEYs and declared links,
//! minus excluded references; an edge points from the referencing (child) table to the referenced one.

use std::collections::{HashSet, VecDeque};

use pgrx::prelude::*;

use crate::error::{GdprError, Result};

#[derive(Debug, Clone)]
pub struct Reference {
    pub child: pg_sys::Oid,
    pub child_cols: Vec<String>,
    pub parent: pg_sys::Oid,
    pub parent_cols: Vec<String>,
    /// Polymorphic links: only child rows with `column = value` point at the parent.
    pub discriminator: Option<(String, String)>,
    /// How the reference was found, for reports: `foreign key <name>` or `declared link`.
    pub label: String,
    /// A FOREIGN KEY whose ON DELETE refuses to delete referenced rows (NO ACTION / RESTRICT).
    pub blocks_delete: bool,
    /// A FOREIGN KEY's ON DELETE (`pg_constraint.confdeltype`: a, r, c, n, d); blank for a link.
    pub on_delete: char,
}

/// The referencing columns of foreign key `k`, in key order.
const FK_COLUMNS: &str = "ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(n, i)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i)";

/// Whether the reference from `child` (regclass) by `cols` (text[]) is excluded by `gdpr.exclude_reference`.
fn excluded_explicitly(child: &str, cols: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM gdpr.excluded_reference x WHERE x.child = {child} AND x.child_cols::text[] = {cols})"
    )
}

/// Whether the reference from `child` by `cols` is excluded by a rule on its column name for the child's schema
/// (`gdpr.exclude_column`), the table not being one of the rule's exceptions.
fn excluded_by_rule(child: &str, cols: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM gdpr.excluded_column x
                  WHERE x.schema_name::oid = (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid = {child})
                    AND ARRAY[x.col::text] = {cols} AND NOT {child} = ANY (x.except_tables))"
    )
}

/// Every foreign key outside the extension's and the system's schemas (a consent reference is not ownership),
/// with whether it is excluded and whether its parent rows are owned by the referencing rows.
fn foreign_keys_sql() -> String {
    format!(
        "SELECT k.conrelid, k.confrelid, k.conname::text, k.confdeltype IN ('a', 'r'),
                {FK_COLUMNS},
                ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.confkey) WITH ORDINALITY u(n, i)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i),
                {explicitly}, {by_rule},
                EXISTS (SELECT 1 FROM gdpr.owned_reference o
                         WHERE o.child = k.conrelid::regclass AND o.child_cols::text[] = {FK_COLUMNS}
                           AND o.parent = k.confrelid::regclass),
                k.confdeltype::text
           FROM pg_catalog.pg_constraint k
           JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
           JOIN pg_catalog.pg_class pc ON pc.oid = k.confrelid
          WHERE k.contype = 'f' AND k.conparentid = 0
            AND pc.relnamespace <> 'gdpr'::regnamespace
            AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace,
                                       'gdpr'::regnamespace)
          ORDER BY k.conrelid::regclass::text, k.conname",
        explicitly = excluded_explicitly("k.conrelid::regclass", FK_COLUMNS),
        by_rule = excluded_by_rule("k.conrelid::regclass", FK_COLUMNS),
    )
}

fn links_sql() -> String {
    format!(
        "SELECT l.child::oid, l.parent::oid, l.child_cols::text[], l.parent_cols::text[], l.type_col::text,
                l.type_value, {explicitly}, {by_rule},
                EXISTS (SELECT 1 FROM gdpr.owned_reference o
                         WHERE o.child = l.child AND o.child_cols = l.child_cols AND o.parent = l.parent)
           FROM gdpr.link l
          ORDER BY l.id",
        explicitly = excluded_explicitly("l.child", "l.child_cols::text[]"),
        by_rule = excluded_by_rule("l.child", "l.child_cols::text[]"),
    )
}

/// The deferrable constraints an erasure of `tables` may fire (their own, and FOREIGN KEYs onto them), schema-
/// qualified and quoted for `SET CONSTRAINTS`, with whether each is INITIALLY DEFERRED. Statements on user tables
/// run in a security-restricted operation, where PostgreSQL refuses to queue deferred checks: the erasure makes
/// these immediate while it changes rows.
pub fn deferrable_constraints(tables: &[pg_sys::Oid]) -> Result<Vec<(String, bool)>> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT DISTINCT pg_catalog.format('%I.%I', n.nspname, k.conname), k.condeferred
               FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
              WHERE k.condeferrable AND (k.conrelid = ANY ($1) OR (k.contype = 'f' AND k.confrelid = ANY ($1)))
                -- SET CONSTRAINTS names a constraint by schema and name: one shared with another constraint of
                -- the schema would change (or, not deferrable, refuse) that one too. Left deferred, such a
                -- constraint fails the erasure with PostgreSQL's 42501, naming the table.
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint o
                                 WHERE o.connamespace = k.connamespace AND o.conname = k.conname AND o.oid <> k.oid)
              ORDER BY 1",
            None,
            &[tables.to_vec().into()],
        )? {
            out.push((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<bool>(2)?.unwrap_or(false),
            ));
        }
        Ok::<_, GdprError>(out)
    })
}

/// A FOREIGN KEY as the checks around deletes need it (excluded or not).
pub struct ForeignKey {
    pub child: pg_sys::Oid,
    pub child_cols: Vec<String>,
    pub parent: pg_sys::Oid,
    pub parent_cols: Vec<String>,
    pub name: String,
    /// `pg_constraint.confdeltype`: a (no action), r (restrict), c (cascade), n (set null), d (set default).
    pub on_delete: char,
}

impl ForeignKey {
    /// ON DELETE NO ACTION / RESTRICT: deleting a row it references fails while a referencing row remains.
    pub fn blocks_delete(&self) -> bool {
        matches!(self.on_delete, 'a' | 'r')
    }
}

/// The top-level FOREIGN KEYs matching `condition` (on `k`, a pg_constraint row; `$1` an `oid[]`), as a kept
/// statement: the checks around deletes read them for every erasure.
fn foreign_keys(
    client: &mut pgrx::spi::SpiClient<'_>,
    condition: &str,
    tables: &[pg_sys::Oid],
) -> Result<Vec<ForeignKey>> {
    let sql = format!(
        "SELECT k.conrelid, k.confrelid, k.conname::text, k.confdeltype::text, {FK_COLUMNS},
                ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.confkey) WITH ORDINALITY u(n, i)
                        JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
           FROM pg_catalog.pg_constraint k
          WHERE k.contype = 'f' AND k.conparentid = 0 AND {condition}
          ORDER BY k.conrelid::regclass::text, k.conname"
    );
    let stmt = crate::cache::statement(
        client,
        &sql,
        &[pgrx::PgOid::BuiltIn(pg_sys::BuiltinOid::OIDARRAYOID)],
    )?;
    let mut keys = Vec::new();
    for r in client.update(&*stmt, None, &[tables.to_vec().into()])? {
        keys.push(ForeignKey {
            child: r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
            parent: r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
            name: r.get::<String>(3)?.unwrap_or_default(),
            on_delete: r
                .get::<String>(4)?
                .and_then(|s| s.chars().next())
                .unwrap_or('a'),
            child_cols: r.get::<Vec<String>>(5)?.unwrap_or_default(),
            parent_cols: r.get::<Vec<String>>(6)?.unwrap_or_default(),
        });
    }
    Ok(keys)
}

/// The excluded FOREIGN KEYs that reference any of `tables`: deleting rows they reference fails (NO ACTION /
/// RESTRICT) or changes rows outside the erasure (CASCADE, SET NULL, SET DEFAULT).
pub fn excluded_keys_onto(tables: &[pg_sys::Oid]) -> Result<Vec<ForeignKey>> {
    let condition = format!(
        "k.confrelid = ANY ($1) AND ({} OR {})",
        excluded_explicitly("k.conrelid::regclass", FK_COLUMNS),
        excluded_by_rule("k.conrelid::regclass", FK_COLUMNS),
    );
    Spi::connect_mut(|client| foreign_keys(client, &condition, tables))
}

/// Every FOREIGN KEY between `tables` — excluded ones too: an exclusion means "do not follow", not "does not
/// exist", and deletes must still come before the rows they reference.
pub fn foreign_keys_between(tables: &[pg_sys::Oid]) -> Result<Vec<ForeignKey>> {
    Spi::connect_mut(|client| {
        foreign_keys(
            client,
            "k.conrelid = ANY ($1) AND k.confrelid = ANY ($1)",
            tables,
        )
    })
}

/// Every FOREIGN KEY onto `table`, excluded or not: what deleting its rows makes PostgreSQL check or do.
pub fn foreign_keys_onto(
    client: &mut pgrx::spi::SpiClient<'_>,
    table: pg_sys::Oid,
) -> Result<Vec<ForeignKey>> {
    foreign_keys(client, "k.confrelid = ANY ($1)", &[table])
}

/// The references an erasure knows of.
#[derive(Default, Clone)]
pub struct Graph {
    /// The references it follows, from parent rows to the rows that belong to them.
    pub refs: Vec<Reference>,
    /// References whose parent rows belong to the referencing rows (`gdpr.declare_owned`; excluded or not):
    /// followed upwards, to parent rows no other row references any more.
    pub owned: Vec<Reference>,
    /// References not followed because of a rule on their column name (`gdpr.exclude_column`), for reports.
    pub excluded_by_rule: Vec<Reference>,
    /// Every reference, excluded or not: what keeps an owned parent row in use.
    pub all: Vec<Reference>,
}

/// The references erasures follow (FOREIGN KEYs and declared links, minus exclusions).
pub fn load_references() -> Result<Vec<Reference>> {
    Ok(load()?.refs)
}

pub fn load() -> Result<Graph> {
    Spi::connect(|client| {
        let mut graph = Graph::default();
        let mut sort = |r: Reference, explicitly: bool, by_rule: bool, owned: bool| {
            graph.all.push(r.clone());
            if owned {
                graph.owned.push(r.clone());
            }
            if explicitly {
                return;
            }
            if by_rule {
                graph.excluded_by_rule.push(r);
            } else {
                graph.refs.push(r);
            }
        };
        for r in client.select(&foreign_keys_sql(), None, &[])? {
            let reference = Reference {
                child: r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                parent: r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
                label: format!("foreign key {}", r.get::<String>(3)?.unwrap_or_default()),
                blocks_delete: r.get::<bool>(4)?.unwrap_or(false),
                child_cols: r.get::<Vec<String>>(5)?.unwrap_or_default(),
                parent_cols: r.get::<Vec<String>>(6)?.unwrap_or_default(),
                discriminator: None,
                on_delete: r
                    .get::<String>(10)?
                    .and_then(|s| s.chars().next())
                    .unwrap_or(' '),
            };
            let flag = |i: usize| r.get::<bool>(i).map(|b| b.unwrap_or(false));
            sort(reference, flag(7)?, flag(8)?, flag(9)?);
        }
        for r in client.select(&links_sql(), None, &[])? {
            let type_col = r.get::<String>(5)?;
            let type_value = r.get::<String>(6)?;
            let reference = Reference {
                child: r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                parent: r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
                child_cols: r.get::<Vec<String>>(3)?.unwrap_or_default(),
                parent_cols: r.get::<Vec<String>>(4)?.unwrap_or_default(),
                discriminator: type_col.zip(type_value),
                label: "declared link".to_string(),
                blocks_delete: false,
                on_delete: ' ',
            };
            let flag = |i: usize| r.get::<bool>(i).map(|b| b.unwrap_or(false));
            sort(reference, flag(7)?, flag(8)?, flag(9)?);
        }
        Ok::<_, GdprError>(graph)
    })
}

/// The tables reachable from `root` and what connects them.
pub struct Reach {
    /// Tables whose rows can belong to a row of `root`, breadth-first (root first).
    pub order: Vec<pg_sys::Oid>,
    /// References among those tables.
    pub refs: Vec<Reference>,
    /// References from `root` to tables outside the reach (a session's guest): never changed by an erasure,
    /// but their personal data is what `scrub` looks for in the subject's free text.
    pub up: Vec<Reference>,
    /// Owned references followed upwards (`reachable_owning` only), and the tables only they reach.
    pub owned: Vec<Reference>,
    pub owned_only: HashSet<pg_sys::Oid>,
}

/// The tables whose rows can belong to rows of `root`, following references from parent to child.
pub fn reachable(root: pg_sys::Oid, refs: Vec<Reference>) -> Reach {
    reachable_owning(
        root,
        Graph {
            refs,
            ..Graph::default()
        },
    )
}

/// `reachable`, and also the parent tables of owned references from reached tables (a content-addressed blob
/// of an attachment), with everything reachable from those.
pub fn reachable_owning(root: pg_sys::Oid, graph: Graph) -> Reach {
    let Graph { refs, owned, .. } = graph;
    let downward: HashSet<pg_sys::Oid> = if owned.is_empty() {
        HashSet::new()
    } else {
        reachable(root, refs.clone()).order.into_iter().collect()
    };
    let mut order = vec![root];
    let mut seen: HashSet<pg_sys::Oid> = HashSet::from([root]);
    let mut owned_only = HashSet::new();
    let mut queue = VecDeque::from([root]);
    while let Some(table) = queue.pop_front() {
        for r in refs.iter().filter(|r| r.parent == table) {
            if seen.insert(r.child) {
                order.push(r.child);
                queue.push_back(r.child);
            }
        }
        for r in owned.iter().filter(|r| r.child == table) {
            if seen.insert(r.parent) {
                if !downward.contains(&r.parent) {
                    owned_only.insert(r.parent);
                }
                order.push(r.parent);
                queue.push_back(r.parent);
            }
        }
    }
    let (used, rest): (Vec<Reference>, Vec<Reference>) = refs
        .into_iter()
        .partition(|r| seen.contains(&r.parent) && seen.contains(&r.child));
    let up = rest.into_iter().filter(|r| r.child == root).collect();
    let owned = owned
        .into_iter()
        .filter(|r| seen.contains(&r.child) && seen.contains(&r.parent))
        .collect();
    Reach {
        order,
        refs: used,
        up,
        owned,
        owned_only,
    }
}
