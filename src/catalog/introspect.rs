//! Reads what pg_gdpr needs to know about user tables from the system catalogs.
//! Identifiers are quoted by PostgreSQL itself (`format('%I')`), never by Rust formatting.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::thread::LocalKey;

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::PgOid;

use crate::error::{GdprError, Result};

/// A table (plain or partitioned) as the erasure engine sees it.
#[derive(Debug, Clone)]
pub struct Table {
    pub oid: pg_sys::Oid,
    /// `"schema"."table"`, quoted for SQL.
    pub sql_name: String,
    /// `schema.table` for messages and reports.
    pub display: String,
    /// The owning role: statements on the table's rows run as this role (see privilege.rs).
    pub owner: pg_sys::Oid,
}

/// A column with the facts the strategies validate against.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The identifier quoted for SQL.
    pub sql_name: String,
    /// `format_type(atttypid, -1)`: the type without its modifier, for `CAST(... AS <type>)`. A key compared
    /// through it matches exactly: `character(6)` becomes `bpchar`, not `character` (which means `char(1)` and
    /// would truncate an id to its first letter), `numeric(10,2)` becomes `numeric` (no rounding onto a
    /// neighbour's key). Assignments still apply the column's modifier.
    pub type_sql: String,
    /// The type with its modifier (`character(6)`, `numeric(10,2)`), for messages.
    pub type_display: String,
    /// The type a given value is cast to before it is compared with the column: `type_sql`, or for a domain its
    /// base type without modifier — a domain over `char(5)` or `numeric(10,2)` would truncate or round the value
    /// onto a neighbour's key, as the bare `character` would.
    pub compare_type: String,
    /// The equality operator of `compare_type`, schema-qualified (`OPERATOR(public.=)` for citext): statements
    /// run with `search_path = pg_catalog`, where a bare `=` would compare an extension type's values as text.
    /// Taken from the type's default btree operator class, never found by name: another role's `=` in its
    /// own schema is not the type's.
    pub equals: String,
    /// The "greater than" operator of the same operator class (what ORDER BY on the column sorts by).
    pub greater: String,
    /// The type category of the column's base type (`S` string, `N` numeric, `D` date/time, ...).
    pub category: String,
    pub not_null: bool,
    /// Declared character length (`varchar(n)`, `char(n)`), if any.
    pub max_len: Option<i32>,
    /// Part of a primary key, unique constraint or unique index.
    pub unique: bool,
    pub in_primary_key: bool,
    /// Where the column is in the primary key (orders the key), if it is part of it.
    pub primary_key_position: Option<i32>,
    /// The name as an SQL string literal (`quote_literal`).
    pub name_literal: String,
    pub attnum: i16,
}

pub fn table(oid: pg_sys::Oid) -> Result<Table> {
    if let Some(t) = MEMO.with(|m| {
        m.borrow()
            .as_ref()
            .and_then(|m| m.tables.get(&oid).cloned())
    }) {
        return Ok(t);
    }
    let t = read_table(oid)?;
    MEMO.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            m.tables.insert(oid, t.clone());
        }
    });
    Ok(t)
}

const TABLE_QUERY: &str = "
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname),
           n.nspname::text || '.' || c.relname::text,
           c.relkind::text,
           n.nspname IN ('pg_catalog', 'information_schema', 'pg_toast', 'gdpr'),
           c.relowner,
           c.relpersistence = 't'
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = $1";

/// `query` (one parameter of type `param`), prepared on first use and kept in `slot` for the backend's life.
fn kept(
    client: &SpiClient<'_>,
    slot: &'static LocalKey<RefCell<Option<Rc<OwnedPreparedStatement>>>>,
    query: &str,
    param: PgOid,
) -> Result<Rc<OwnedPreparedStatement>> {
    if let Some(stmt) = slot.with(|s| s.borrow().clone()) {
        return Ok(stmt);
    }
    let stmt = Rc::new(client.prepare(query, &[param])?.keep());
    slot.with(|s| *s.borrow_mut() = Some(stmt.clone()));
    Ok(stmt)
}

fn read_table(oid: pg_sys::Oid) -> Result<Table> {
    let row = Spi::connect(|client| {
        let stmt = kept(
            client,
            &TABLE,
            TABLE_QUERY,
            PgOid::BuiltIn(pg_sys::BuiltinOid::OIDOID),
        )?;
        let rows = client.select(&*stmt, None, &[oid.into()])?;
        let mut out = None;
        for r in rows {
            out = Some((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
                r.get::<bool>(4)?.unwrap_or(false),
                r.get::<pg_sys::Oid>(5)?.unwrap_or(pg_sys::Oid::INVALID),
                r.get::<bool>(6)?.unwrap_or(false),
            ));
        }
        Ok::<_, GdprError>(out)
    })?;
    let (sql_name, display, relkind, system, owner, temporary) = row.ok_or_else(|| {
        GdprError::UndefinedTable(format!("table with oid {} does not exist", oid.to_u32()))
    })?;
    if system {
        return Err(GdprError::InvalidParameter(format!(
            "{display} is a system or pg_gdpr table; declarations are for application tables"
        )));
    }
    if temporary {
        // Dropped at the end of its session without a trace in the event triggers: a declaration about it
        // would outlive it, naming an oid another table may get.
        return Err(GdprError::InvalidParameter(format!(
            "{display} is a temporary table; declarations are for application tables"
        )));
    }
    if relkind != "r" && relkind != "p" {
        return Err(GdprError::InvalidParameter(format!(
            "{display} is not a table (only plain and partitioned tables can hold personal data declarations)"
        )));
    }
    Ok(Table {
        oid,
        sql_name,
        display,
        owner,
    })
}

const COLUMN_QUERY: &str = "
    SELECT a.attname::text,
           pg_catalog.format('%I', a.attname),
           pg_catalog.format_type(a.atttypid, -1),
           bt.typcategory::text,
           a.attnotnull,
           CASE WHEN a.atttypmod > 4 AND bt.typcategory = 'S' THEN a.atttypmod - 4 END,
           EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                    WHERE i.indrelid = a.attrelid AND i.indisunique
                      AND a.attnum = ANY (i.indkey::int2[])),
           EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                    WHERE i.indrelid = a.attrelid AND i.indisprimary
                      AND a.attnum = ANY (i.indkey::int2[])),
           pg_catalog.format_type(a.atttypid, a.atttypmod),
           a.attnum,
           pg_catalog.format_type(bt.oid, -1),
           coalesce(ops.equals, '='),
           coalesce(ops.greater, '>'),
           (SELECT pg_catalog.array_position(i.indkey::int2[], a.attnum) FROM pg_catalog.pg_index i
             WHERE i.indrelid = a.attrelid AND i.indisprimary),
           pg_catalog.quote_literal(a.attname),
           a.attrelid
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
      -- `=` and `>` of the type's default btree operator class (strategies 3 and 5), schema-qualified; for
      -- every type at once (joined, not looked up per column: a plan build reads hundreds of columns).
      LEFT JOIN (
           SELECT c.opcintype AS typ, pg_catalog.max(pg_catalog.format('OPERATOR(%I.%s)', n.nspname, o.oprname))
                      FILTER (WHERE ao.amopstrategy = 3) AS equals,
                  pg_catalog.max(pg_catalog.format('OPERATOR(%I.%s)', n.nspname, o.oprname))
                      FILTER (WHERE ao.amopstrategy = 5) AS greater
             FROM pg_catalog.pg_opclass c
             JOIN pg_catalog.pg_am am ON am.oid = c.opcmethod AND am.amname = 'btree'
             JOIN pg_catalog.pg_amop ao ON ao.amopfamily = c.opcfamily AND ao.amopstrategy IN (3, 5)
                                       AND ao.amoplefttype = c.opcintype AND ao.amoprighttype = c.opcintype
             JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr
             JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
            WHERE c.opcdefault GROUP BY c.opcintype) ops ON ops.typ = bt.oid
     WHERE a.attnum > 0 AND NOT a.attisdropped";

thread_local! {
    /// `COLUMN_QUERY` for all of a table's columns, planned once per backend: planning it costs more than
    /// running it, and a plan build reads the columns of every table it covers.
    static ALL_COLUMNS: RefCell<Option<Rc<OwnedPreparedStatement>>> = const { RefCell::new(None) };
    /// `TABLE_QUERY`, likewise.
    static TABLE: RefCell<Option<Rc<OwnedPreparedStatement>>> = const { RefCell::new(None) };
    /// Tables and columns read while a `Memo` is alive (one plan build): each table's catalog rows once.
    static MEMO: RefCell<Option<Memoized>> = const { RefCell::new(None) };
}

#[derive(Default)]
struct Memoized {
    tables: HashMap<pg_sys::Oid, Table>,
    columns: HashMap<pg_sys::Oid, Rc<Vec<Column>>>,
}

/// While the returned guard lives, `table` and `column` read each table's catalog rows once: a plan build looks
/// up the same columns many times, and nothing it reads can change under it.
pub struct Memo {
    outermost: bool,
}

pub fn memo() -> Memo {
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        let outermost = m.is_none();
        if outermost {
            *m = Some(Memoized::default());
        }
        Memo { outermost }
    })
}

impl Drop for Memo {
    fn drop(&mut self) {
        if self.outermost {
            MEMO.with(|m| *m.borrow_mut() = None);
        }
    }
}

/// Every column of `table`, in column order.
fn all_columns(table: &Table) -> Result<Rc<Vec<Column>>> {
    if let Some(cols) = MEMO.with(|m| {
        m.borrow()
            .as_ref()
            .and_then(|m| m.columns.get(&table.oid).cloned())
    }) {
        return Ok(cols);
    }
    let cols = Rc::new(read_columns(table.oid)?);
    MEMO.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            m.columns.insert(table.oid, cols.clone());
        }
    });
    Ok(cols)
}

fn read_columns(oid: pg_sys::Oid) -> Result<Vec<Column>> {
    Ok(read_columns_of(&[oid])?.remove(&oid).unwrap_or_default())
}

/// The columns of each of `tables`, in column order: one statement for all of them.
fn read_columns_of(tables: &[pg_sys::Oid]) -> Result<HashMap<pg_sys::Oid, Vec<Column>>> {
    Spi::connect(|client| {
        let stmt = kept(
            client,
            &ALL_COLUMNS,
            &format!("{COLUMN_QUERY} AND a.attrelid = ANY ($1) ORDER BY a.attrelid, a.attnum"),
            PgOid::BuiltIn(pg_sys::BuiltinOid::OIDARRAYOID),
        )?;
        let rows = client.select(&*stmt, None, &[tables.to_vec().into()])?;
        let mut out: HashMap<pg_sys::Oid, Vec<Column>> = HashMap::new();
        for r in rows {
            let table = r.get::<pg_sys::Oid>(16)?.unwrap_or(pg_sys::Oid::INVALID);
            out.entry(table).or_default().push(Column {
                name: r.get::<String>(1)?.unwrap_or_default(),
                sql_name: r.get::<String>(2)?.unwrap_or_default(),
                type_sql: r.get::<String>(3)?.unwrap_or_default(),
                category: r.get::<String>(4)?.unwrap_or_default(),
                not_null: r.get::<bool>(5)?.unwrap_or(false),
                max_len: r.get::<i32>(6)?,
                unique: r.get::<bool>(7)?.unwrap_or(false),
                in_primary_key: r.get::<bool>(8)?.unwrap_or(false),
                type_display: r.get::<String>(9)?.unwrap_or_default(),
                attnum: r.get::<i16>(10)?.unwrap_or(0),
                compare_type: r.get::<String>(11)?.unwrap_or_default(),
                equals: r.get::<String>(12)?.unwrap_or_else(|| "=".into()),
                greater: r.get::<String>(13)?.unwrap_or_else(|| ">".into()),
                primary_key_position: r.get::<i32>(14)?,
                name_literal: r.get::<String>(15)?.unwrap_or_default(),
            });
        }
        Ok(out)
    })
}

/// Reads the columns of all `tables` at once into the memo (a plan build about to look at each of them).
pub fn prefetch_columns(tables: &[pg_sys::Oid]) -> Result<()> {
    if MEMO.with(|m| m.borrow().is_none()) {
        return Ok(());
    }
    let mut columns = read_columns_of(tables)?;
    MEMO.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            for oid in tables {
                let cols = columns.remove(oid).unwrap_or_default();
                m.columns.entry(*oid).or_insert_with(|| Rc::new(cols));
            }
        }
    });
    Ok(())
}

/// One named column of `table`, or a 42703 error naming both.
pub fn column(table: &Table, name: &str) -> Result<Column> {
    all_columns(table)?
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .ok_or_else(|| {
            GdprError::UndefinedColumn(format!(
                "column \"{name}\" of table {} does not exist",
                table.display
            ))
        })
}

/// Several named columns, in the order given.
pub fn columns(table: &Table, names: &[String]) -> Result<Vec<Column>> {
    names.iter().map(|n| column(table, n)).collect()
}

/// The primary key columns in key order; empty when the table has none.
pub fn primary_key(table: &Table) -> Result<Vec<Column>> {
    let mut key: Vec<Column> = all_columns(table)?
        .iter()
        .filter(|c| c.primary_key_position.is_some())
        .cloned()
        .collect();
    key.sort_by_key(|c| c.primary_key_position);
    Ok(key)
}

/// Trigger `name` of `table` (not a partition's clone): None when absent, else whether it has a WHEN condition.
pub fn trigger(table: pg_sys::Oid, name: &str) -> Result<Option<bool>> {
    Spi::connect(|client| {
        let mut rows = client.select(
            "SELECT t.tgqual IS NOT NULL FROM pg_catalog.pg_trigger t
              WHERE t.tgrelid = $1 AND t.tgname = $2 AND t.tgparentid = 0",
            Some(1),
            &[table.into(), name.into()],
        )?;
        Ok::<_, GdprError>(match rows.next() {
            Some(r) => Some(r.get::<bool>(1)?.unwrap_or(false)),
            None => None,
        })
    })
}

/// Whether `cols` (in any order) are exactly the columns of the primary key or of a valid, non-partial unique
/// index without expressions — what a FOREIGN KEY may reference.
pub fn is_unique_key(table: &Table, cols: &[String]) -> Result<bool> {
    Ok(Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (
             SELECT 1 FROM pg_catalog.pg_index i
              WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
                AND i.indexprs IS NULL AND i.indnkeyatts = pg_catalog.cardinality($2::text[])
                AND (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attname)
                       FROM pg_catalog.pg_attribute a
                      WHERE a.attrelid = i.indrelid
                        AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
                    = (SELECT pg_catalog.array_agg(c ORDER BY c) FROM pg_catalog.unnest($2::text[]) c))",
        &[table.oid.into(), cols.to_vec().into()],
    )?
    .unwrap_or(false))
}

/// The columns of `table` whose type is (a domain over) bytea, as (name as an SQL literal, quoted identifier).
pub fn bytea_columns(table: &Table) -> Result<Vec<(String, String)>> {
    Ok(all_columns(table)?
        .iter()
        .filter(|c| c.compare_type == "bytea")
        .map(|c| (c.name_literal.clone(), c.sql_name.clone()))
        .collect())
}
