//! Per-backend caches: erasure plans, prepared statements and the pseudonymization key.
//!
//! Everything cached is dropped after a relcache invalidation of a table a cached plan covers or of one of the
//! extension's own tables (DDL on those tables, a declaration or a key rotation — see the
//! `_declarations_changed` trigger). Invalidations arrive transactionally, so nothing cached outlives the
//! catalog state it was built from.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::subject::plan::{self, ErasurePlan};

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::PgOid;

use crate::error::{GdprError, Result};

static STALE: AtomicBool = AtomicBool::new(true);

thread_local! {
    static WATCHED: RefCell<HashSet<pg_sys::Oid>> = RefCell::new(HashSet::new());
    static PLANS: RefCell<HashMap<String, Rc<ErasurePlan>>> = RefCell::new(HashMap::new());
    static STATEMENTS: RefCell<HashMap<String, Rc<OwnedPreparedStatement>>> = RefCell::new(HashMap::new());
    static KEY: RefCell<Option<Rc<Vec<u8>>>> = const { RefCell::new(None) };
}

/// Relcache invalidation callback: must not touch the catalogs, only mark the cache stale.
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let relevant = relid == pg_sys::Oid::INVALID
        || WATCHED.with(|w| {
            w.try_borrow()
                .map(|set| set.contains(&relid))
                .unwrap_or(true)
        });
    if relevant {
        STALE.store(true, Ordering::Relaxed);
    }
}

pub fn register_invalidation_callback() {
    // SAFETY: registering a callback with PostgreSQL's invalidation machinery, once, from _PG_init.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(
            Some(on_relcache_invalidation),
            pg_sys::Datum::from(0),
        )
    }
}

/// Drops everything cached if an invalidation arrived, and makes sure the extension's tables are watched.
fn ensure_fresh() -> Result<()> {
    if STALE.swap(false, Ordering::Relaxed) {
        PLANS.with(|p| p.borrow_mut().clear());
        STATEMENTS.with(|s| s.borrow_mut().clear());
        KEY.with(|k| k.borrow_mut().take());
        WATCHED.with(|w| w.borrow_mut().clear());
    }
    if WATCHED.with(|w| w.borrow().is_empty()) {
        let tables = config_tables()?;
        WATCHED.with(|w| w.borrow_mut().extend(tables));
    }
    Ok(())
}

fn config_tables() -> Result<Vec<pg_sys::Oid>> {
    Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relnamespace = 'gdpr'::regnamespace AND c.relkind = 'r'",
            None,
            &[],
        )? {
            out.extend(r.get::<pg_sys::Oid>(1)?);
        }
        Ok::<_, GdprError>(out)
    })
}

/// The erasure plan for a subject kind, built on first use in this backend.
pub fn plan_for(kind: &str) -> Result<Rc<ErasurePlan>> {
    ensure_fresh()?;
    if let Some(p) = PLANS.with(|p| p.borrow().get(kind).cloned()) {
        return Ok(p);
    }
    let plan = Rc::new(plan::build(kind)?);
    WATCHED.with(|w| {
        w.borrow_mut()
            .extend(plan.tables.iter().map(|t| t.table.oid))
    });
    PLANS.with(|p| p.borrow_mut().insert(kind.to_string(), plan.clone()));
    Ok(plan)
}

/// A prepared statement for `sql` with parameter types `types`, kept until the cache goes stale.
pub fn statement(
    client: &SpiClient<'_>,
    sql: &str,
    types: &[PgOid],
) -> Result<Rc<OwnedPreparedStatement>> {
    if let Some(s) = STATEMENTS.with(|s| s.borrow().get(sql).cloned()) {
        return Ok(s);
    }
    pgrx::debug2!("gdpr: preparing {sql}");
    let prepared = Rc::new(client.prepare_mut(sql, types)?.keep());
    STATEMENTS.with(|s| s.borrow_mut().insert(sql.to_string(), prepared.clone()));
    Ok(prepared)
}

/// The database's pseudonymization key, read once per backend through `load` (which runs as the owner).
pub fn key(load: impl FnOnce() -> Result<Vec<u8>>) -> Result<Rc<Vec<u8>>> {
    ensure_fresh()?;
    if let Some(k) = KEY.with(|k| k.borrow().clone()) {
        return Ok(k);
    }
    let key = Rc::new(load()?);
    KEY.with(|k| *k.borrow_mut() = Some(key.clone()));
    Ok(key)
}

/// Called by the trigger on the config tables: other backends (and this one) drop their plans at commit.
pub fn invalidate(relid: pg_sys::Oid) {
    // SAFETY: queues a relcache invalidation message for a valid relation oid (sent at commit).
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) }
}
