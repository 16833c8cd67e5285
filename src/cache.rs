//! Per-backend caches: erasure plans, prepared statements, guards, consent texts and the pseudonymization key.
//!
//! Everything cached is dropped after a relcache invalidation of a table a cached plan covers or of one of the
//! extension's own tables (DDL on those tables, a declaration or a key rotation — see the
//! `_declarations_changed` trigger). Invalidations arrive transactionally, so nothing cached outlives the
//! catalog state it was built from.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::LocalKey;

use crate::consent::{ConsentTable, ConsentText};
use crate::subject::guard::{self, Guard};
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
    static OWNER: RefCell<Option<pg_sys::Oid>> = const { RefCell::new(None) };
    static GUARDS: RefCell<HashMap<pg_sys::Oid, Rc<Guard>>> = RefCell::new(HashMap::new());
    static CONSENT_TEXTS: RefCell<Option<HashMap<i64, Rc<ConsentText>>>> = const { RefCell::new(None) };
    static CONSENT_TABLE: RefCell<Option<ConsentTable>> = const { RefCell::new(None) };
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
        OWNER.with(|o| o.borrow_mut().take());
        GUARDS.with(|g| g.borrow_mut().clear());
        CONSENT_TEXTS.with(|c| c.borrow_mut().take());
        CONSENT_TABLE.with(|c| c.borrow_mut().take());
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
            "SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace OPERATOR(pg_catalog.=) 'gdpr'::pg_catalog.regnamespace
                AND c.relkind OPERATOR(pg_catalog.=) 'r'::pg_catalog.char",
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
    cached_plan(kind.to_string(), || plan::build(kind))
}

/// The erasure plan rooted at a table (rows collected under a withdrawn consent, or expired), labelled `kind`;
/// `action` overrides the table's declared erase action.
pub fn plan_for_table(
    kind: &str,
    table: pg_sys::Oid,
    action: Option<plan::Action>,
) -> Result<Rc<ErasurePlan>> {
    let action_key = action.map_or("", plan::Action::as_str);
    cached_plan(format!("{kind}\0{}\0{action_key}", table.to_u32()), || {
        plan::build_rooted(kind, table, action)
    })
}

fn cached_plan(
    cache_key: String,
    build: impl FnOnce() -> Result<ErasurePlan>,
) -> Result<Rc<ErasurePlan>> {
    ensure_fresh()?;
    if let Some(p) = PLANS.with(|p| p.borrow().get(&cache_key).cloned()) {
        return Ok(p);
    }
    let plan = Rc::new(build()?);
    WATCHED.with(|w| {
        w.borrow_mut()
            .extend(plan.tables.iter().map(|t| t.table.oid))
    });
    PLANS.with(|p| p.borrow_mut().insert(cache_key, plan.clone()));
    Ok(plan)
}

/// What the erased-subject guard checks for writes to `table`, built on first use in this backend.
pub fn guard_for(table: pg_sys::Oid) -> Result<Rc<Guard>> {
    ensure_fresh()?;
    if let Some(g) = GUARDS.with(|g| g.borrow().get(&table).cloned()) {
        return Ok(g);
    }
    let built = Rc::new(guard::build(table)?);
    WATCHED.with(|w| {
        let mut w = w.borrow_mut();
        w.insert(table);
        w.extend(built.watched());
    });
    GUARDS.with(|g| g.borrow_mut().insert(table, built.clone()));
    Ok(built)
}

/// A consent text, from all texts read once per backend through `load` (a statement trigger on
/// gdpr.consent_text invalidates them when one is published or retired).
pub fn consent_text(
    id: i64,
    load: impl FnOnce() -> Result<HashMap<i64, Rc<ConsentText>>>,
) -> Result<Option<Rc<ConsentText>>> {
    ensure_fresh()?;
    if let Some(found) = CONSENT_TEXTS.with(|c| c.borrow().as_ref().map(|m| m.get(&id).cloned())) {
        if found.is_some() {
            return Ok(found);
        }
    }
    // Unknown id: a text published since the cache was filled (in this transaction) — read them again.
    let texts = load()?;
    let found = texts.get(&id).cloned();
    CONSENT_TEXTS.with(|c| *c.borrow_mut() = Some(texts));
    Ok(found)
}

/// Where the consent trigger looks consents up.
pub fn consent_table(load: impl FnOnce() -> Result<ConsentTable>) -> Result<ConsentTable> {
    cached(&CONSENT_TABLE, load)
}

/// The extension owner's role, read once per backend (an ownership change of the extension's tables, as
/// REASSIGN OWNED makes, invalidates it).
pub fn extension_owner(load: impl FnOnce() -> Result<pg_sys::Oid>) -> Result<pg_sys::Oid> {
    cached(&OWNER, load)
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
    cached(&KEY, || load().map(Rc::new))
}

/// The value in `slot`, loaded on first use and kept until the cache goes stale.
fn cached<T: Clone + 'static>(
    slot: &'static LocalKey<RefCell<Option<T>>>,
    load: impl FnOnce() -> Result<T>,
) -> Result<T> {
    ensure_fresh()?;
    if let Some(value) = slot.with(|s| s.borrow().clone()) {
        return Ok(value);
    }
    let value = load()?;
    slot.with(|s| *s.borrow_mut() = Some(value.clone()));
    Ok(value)
}

/// Called by the trigger on the config tables: other backends (and this one) drop their plans at commit.
pub fn invalidate(relid: pg_sys::Oid) {
    // SAFETY: queues a relcache invalidation message for a valid relation oid (sent at commit).
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) }
}
