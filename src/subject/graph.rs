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
}

const FOREIGN_KEYS: &str = "
    SELECT k.conrelid, k.confrelid, k.conname::text, k.confdeltype IN ('a', 'r'),
           ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(n, i)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
           ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.confkey) WITH ORDINALITY u(n, i)
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
      FROM pg_catalog.pg_constraint k
      JOIN pg_catalog.pg_class c ON c.oid = k.conrelid
      JOIN pg_catalog.pg_class pc ON pc.oid = k.confrelid
     WHERE k.contype = 'f' AND k.conparentid = 0
       AND pc.relnamespace <> 'gdpr'::regnamespace  -- consent references are not ownership
       AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace,
                                  'gdpr'::regnamespace)
       AND NOT EXISTS (SELECT 1 FROM gdpr.excluded_reference x
                        WHERE x.child = k.conrelid::regclass
                          AND x.child_cols::text[] = ARRAY(
                              SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(n, i)
                                JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                               ORDER BY u.i))
     ORDER BY k.conrelid::regclass::text, k.conname";

const LINKS: &str = "
    SELECT l.child::oid, l.parent::oid, l.child_cols::text[], l.parent_cols::text[], l.type_col::text, l.type_value
      FROM gdpr.link l
     WHERE NOT EXISTS (SELECT 1 FROM gdpr.excluded_reference x
                        WHERE x.child = l.child AND x.child_cols = l.child_cols)
     ORDER BY l.id";

/// A FOREIGN KEY an erasure does not follow (excluded) onto one of its tables, with ON DELETE NO ACTION or
/// RESTRICT: its rows make deleting the rows they reference fail.
pub struct ExcludedKey {
    pub child: pg_sys::Oid,
    pub child_cols: Vec<String>,
    pub parent: pg_sys::Oid,
    pub parent_cols: Vec<String>,
    pub name: String,
}

/// The excluded FOREIGN KEYs with NO ACTION / RESTRICT that reference any of `tables`.
pub fn excluded_blocking_keys(tables: &[pg_sys::Oid]) -> Result<Vec<ExcludedKey>> {
    Spi::connect(|client| {
        let mut keys = Vec::new();
        for r in client.select(
            "SELECT k.conrelid, k.confrelid, k.conname::text,
                    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(n, i)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
                    ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(k.confkey) WITH ORDINALITY u(n, i)
                            JOIN pg_catalog.pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
               FROM pg_catalog.pg_constraint k
              WHERE k.contype = 'f' AND k.conparentid = 0 AND k.confrelid = ANY ($1)
                AND k.confdeltype IN ('a', 'r')
                AND EXISTS (SELECT 1 FROM gdpr.excluded_reference x
                             WHERE x.child = k.conrelid::regclass
                               AND x.child_cols::text[] = ARRAY(
                                   SELECT a.attname::text FROM pg_catalog.unnest(k.conkey) WITH ORDINALITY u(n, i)
                                     JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n
                                    ORDER BY u.i))
              ORDER BY k.conrelid::regclass::text, k.conname",
            None,
            &[tables.to_vec().into()],
        )? {
            keys.push(ExcludedKey {
                child: r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                parent: r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
                name: r.get::<String>(3)?.unwrap_or_default(),
                child_cols: r.get::<Vec<String>>(4)?.unwrap_or_default(),
                parent_cols: r.get::<Vec<String>>(5)?.unwrap_or_default(),
            });
        }
        Ok::<_, GdprError>(keys)
    })
}

/// Every FOREIGN KEY between `tables` as (child, parent) — excluded ones too: an exclusion means "do not follow",
/// not "does not exist", and deletes must still come before the rows they reference.
pub fn foreign_key_pairs(tables: &[pg_sys::Oid]) -> Result<Vec<(pg_sys::Oid, pg_sys::Oid)>> {
    Spi::connect(|client| {
        let mut pairs = Vec::new();
        for r in client.select(
            "SELECT DISTINCT k.conrelid, k.confrelid FROM pg_catalog.pg_constraint k
              WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid = ANY ($1) AND k.confrelid = ANY ($1)",
            None,
            &[tables.to_vec().into()],
        )? {
            pairs.push((
                r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
            ));
        }
        Ok::<_, GdprError>(pairs)
    })
}

pub fn load_references() -> Result<Vec<Reference>> {
    Spi::connect(|client| {
        let mut refs = Vec::new();
        for r in client.select(FOREIGN_KEYS, None, &[])? {
            refs.push(Reference {
                child: r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                parent: r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
                label: format!("foreign key {}", r.get::<String>(3)?.unwrap_or_default()),
                blocks_delete: r.get::<bool>(4)?.unwrap_or(false),
                child_cols: r.get::<Vec<String>>(5)?.unwrap_or_default(),
                parent_cols: r.get::<Vec<String>>(6)?.unwrap_or_default(),
                discriminator: None,
            });
        }
        for r in client.select(LINKS, None, &[])? {
            let type_col = r.get::<String>(5)?;
            let type_value = r.get::<String>(6)?;
            refs.push(Reference {
                child: r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                parent: r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
                child_cols: r.get::<Vec<String>>(3)?.unwrap_or_default(),
                parent_cols: r.get::<Vec<String>>(4)?.unwrap_or_default(),
                discriminator: type_col.zip(type_value),
                label: "declared link".to_string(),
                blocks_delete: false,
            });
        }
        Ok::<_, GdprError>(refs)
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
}

pub fn reachable(root: pg_sys::Oid, refs: Vec<Reference>) -> Reach {
    let mut order = vec![root];
    let mut seen: HashSet<pg_sys::Oid> = HashSet::from([root]);
    let mut queue = VecDeque::from([root]);
    while let Some(parent) = queue.pop_front() {
        for r in refs.iter().filter(|r| r.parent == parent) {
            if seen.insert(r.child) {
                order.push(r.child);
                queue.push_back(r.child);
            }
        }
    }
    let (used, rest): (Vec<Reference>, Vec<Reference>) = refs
        .into_iter()
        .partition(|r| seen.contains(&r.parent) && seen.contains(&r.child));
    let up = rest.into_iter().filter(|r| r.child == root).collect();
    Reach {
        order,
        refs: used,
        up,
    }
}
