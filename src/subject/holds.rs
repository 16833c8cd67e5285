//! Legal holds: a subject under a hold (a dispute, an investigation) is not erased. A request to erase it fails
//! with 55000 naming the hold, retention skips it and every row tied to it (its reach), a consent withdrawal
//! leaves its rows and says so. Holds are placed and released through two functions with their own grant
//! (`gdpr.grant_legal_hold`); `gdpr.legal_hold` keeps every hold, released ones too, with who and when.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use serde_json::{json, Value};

use super::graph;
use super::plan::{ErasurePlan, TEXT_ARRAY};
use super::reach::{
    check_key_length, check_key_values, fetch, find_rows, row_key, row_label, Purpose, Reach,
};
use crate::audit;
use crate::cache;
use crate::error::{required, GdprError, OrReport, Result};
use crate::privilege::{as_extension_owner, caller, require_privileges, Privilege};

/// An active hold on a subject.
#[derive(Debug, Clone)]
pub struct Hold {
    pub id: i64,
    pub kind: String,
    pub subject_id: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: String,
}

impl Hold {
    pub fn to_json(&self) -> Value {
        json!({"hold_id": self.id, "kind": self.kind, "subject_id": self.subject_id, "reason": self.reason,
               "placed_by": self.placed_by, "placed_at": self.placed_at})
    }

    /// The 55000 an erasure fails with when it reaches a row (of `table`) tied to this held subject.
    pub fn reached_by(&self, erasing: &str, table: &str) -> GdprError {
        GdprError::ObjectState(format!(
            "{erasing} would change rows of {table} tied to {} {}, which is under legal hold {} (placed by {} at \
             {}: {}); release it with gdpr.release_legal_hold({}) first",
            self.kind, self.subject_id, self.id, self.placed_by, self.placed_at, self.reason, self.id
        ))
    }

    /// The 55000 an erasure of a held subject fails with.
    pub fn refusal(&self, kind: &str) -> GdprError {
        GdprError::ObjectState(format!(
            "{kind} {} is under legal hold {} (placed by {} at {}: {}); it cannot be erased until \
             gdpr.release_legal_hold({}) releases it",
            self.subject_id, self.id, self.placed_by, self.placed_at, self.reason, self.id
        ))
    }
}

/// The rows (as text) of a read-only query on `gdpr.legal_hold`, run on the latest snapshot: a hold committed
/// after this transaction's snapshot (REPEATABLE READ) is seen all the same. pgrx runs queries read-write once
/// the transaction has an xid (an erasure's row locks give it one), and SPI then uses the transaction's
/// snapshot; a read-only SPI query uses the active one, which is pushed here.
fn latest_rows(sql: &'static str, args: &[DatumWithOid<'_>]) -> Result<Vec<Vec<Option<String>>>> {
    Spi::connect(|_client| {
        let mut types: Vec<pg_sys::Oid> = args.iter().map(|a| a.oid()).collect();
        let mut values: Vec<pg_sys::Datum> = Vec::with_capacity(args.len());
        let mut nulls: Vec<std::os::raw::c_char> = Vec::with_capacity(args.len());
        for a in args {
            match a.datum() {
                Some(d) => {
                    values.push(d.sans_lifetime());
                    nulls.push(b' ' as std::os::raw::c_char);
                }
                None => {
                    values.push(pg_sys::Datum::from(0usize));
                    nulls.push(b'n' as std::os::raw::c_char);
                }
            }
        }
        let plan = prepared(sql, &mut types)?;
        // SAFETY: SPI is connected (Spi::connect); `plan` is a kept plan with these argument types; the arrays
        // outlive the call; the pushed snapshot is popped right after (an error escaping in between aborts the
        // (sub)transaction, which resets the active snapshot stack); the tuple table is read, and copied,
        // before Spi::connect finishes SPI.
        unsafe {
            pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot());
            let status =
                pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), true, 0);
            pg_sys::PopActiveSnapshot();
            if status != pg_sys::SPI_OK_SELECT as i32 {
                return Err(GdprError::InvalidParameter(format!(
                    "internal: reading gdpr.legal_hold returned SPI status {status}"
                )));
            }
            let table = pg_sys::SPI_tuptable;
            let mut rows = Vec::with_capacity(pg_sys::SPI_processed as usize);
            if !table.is_null() {
                let desc = (*table).tupdesc;
                let width = (*desc).natts;
                for i in 0..pg_sys::SPI_processed as usize {
                    let tuple = *(*table).vals.add(i);
                    let mut row = Vec::with_capacity(width as usize);
                    for col in 1..=width {
                        let c = pg_sys::SPI_getvalue(tuple, desc, col);
                        row.push(if c.is_null() {
                            None
                        } else {
                            let v = std::ffi::CStr::from_ptr(c).to_string_lossy().into_owned();
                            pg_sys::pfree(c.cast());
                            Some(v)
                        });
                    }
                    rows.push(row);
                }
            }
            Ok(rows)
        }
    })
}

thread_local! {
    /// The hold queries, planned once per backend (every erasure asks whether any hold is active). Kept plans
    /// are re-planned by PostgreSQL when the tables they read change.
    static PLANS: RefCell<HashMap<&'static str, pg_sys::SPIPlanPtr>> = RefCell::new(HashMap::new());
}

/// The kept plan of `sql` (SPI must be connected).
fn prepared(sql: &'static str, types: &mut [pg_sys::Oid]) -> Result<pg_sys::SPIPlanPtr> {
    if let Some(plan) = PLANS.with(|p| p.borrow().get(sql).copied()) {
        return Ok(plan);
    }
    let query = std::ffi::CString::new(sql)
        .map_err(|_| GdprError::InvalidParameter("a hold query contains a NUL byte".into()))?;
    // SAFETY: SPI is connected; the plan is moved out of the SPI procedure context by SPI_keepplan so that it
    // outlives this connection.
    let plan = unsafe {
        let plan = pg_sys::SPI_prepare(query.as_ptr(), types.len() as i32, types.as_mut_ptr());
        if plan.is_null() || pg_sys::SPI_keepplan(plan) != 0 {
            return Err(GdprError::InvalidParameter(
                "internal: a hold query could not be prepared".into(),
            ));
        }
        plan
    };
    PLANS.with(|p| p.borrow_mut().insert(sql, plan));
    Ok(plan)
}

/// Takes a lock on `gdpr.legal_hold` until the end of the transaction (no SQL, no privilege check: the
/// extension's own table).
fn lock_holds(mode: u32) -> Result<()> {
    // SAFETY: syscache lookups by name; LockRelationOid takes a heavyweight lock on an existing relation.
    unsafe {
        let namespace = pg_sys::get_namespace_oid(c"gdpr".as_ptr(), false);
        let relation = pg_sys::get_relname_relid(c"legal_hold".as_ptr(), namespace);
        if relation == pg_sys::Oid::INVALID {
            return Err(GdprError::UndefinedTable(
                "gdpr.legal_hold does not exist".into(),
            ));
        }
        pg_sys::LockRelationOid(relation, mode as i32);
    }
    Ok(())
}

/// Makes holds wait for this transaction, and this transaction for holds being placed now: an erasure,
/// retention batch or withdrawal takes `gdpr.legal_hold` in SHARE mode (they do not block one another),
/// `place_legal_hold` in SHARE ROW EXCLUSIVE mode, until commit. What a hold protects is then decided on
/// holds that are committed and cannot change until the erasure ends.
pub fn block_new_holds() -> Result<()> {
    lock_holds(pg_sys::ShareLock)
}

/// The active holds on `kind` subjects, those among `subject_ids` only if given, on the latest snapshot.
pub fn active(kind: &str, subject_ids: Option<&[String]>) -> Result<Vec<Hold>> {
    let rows = as_extension_owner(|| {
        latest_rows(
            "SELECT id::text, subject_id, reason, placed_by::text, placed_at::text FROM gdpr.legal_hold
              WHERE kind = $1 AND released_at IS NULL AND ($2::text[] IS NULL OR subject_id = ANY ($2))
              ORDER BY id",
            &[kind.into(), subject_ids.map(<[String]>::to_vec).into()],
        )
    })?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mut r = r.into_iter().map(Option::unwrap_or_default);
            let mut next = || r.next().unwrap_or_default();
            Hold {
                id: next().parse().unwrap_or_default(),
                kind: kind.to_string(),
                subject_id: next(),
                reason: next(),
                placed_by: next(),
                placed_at: next(),
            }
        })
        .collect())
}

/// The kinds that have active holds (latest snapshot).
fn held_kinds() -> Result<Vec<String>> {
    let rows = as_extension_owner(|| {
        latest_rows(
            "SELECT DISTINCT kind FROM gdpr.legal_hold WHERE released_at IS NULL ORDER BY kind",
            &[],
        )
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect())
}

/// Whether the subject table of `kind` reaches any of `tables` (a held kind whose plan cannot be built matters
/// only then). A kind no longer declared (its table dropped) reaches nothing.
fn kind_reaches(kind: &str, tables: &HashSet<pg_sys::Oid>) -> Result<bool> {
    let subject = Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT (SELECT tbl::oid FROM gdpr.subject WHERE kind = $1)",
        &[kind.into()],
    )?;
    let Some(subject) = subject else {
        return Ok(false);
    };
    let reach = graph::reachable(subject, graph::load_references()?);
    Ok(reach.order.iter().any(|t| tables.contains(t)))
}

/// The key of a subject as logged (`subject_label`): one value, or a JSON array of the values.
fn key_of_label(plan: &ErasurePlan, label: &str) -> Vec<String> {
    if plan.root_key_len == 1 {
        return vec![label.to_string()];
    }
    serde_json::from_str(label).unwrap_or_default()
}

/// Rows tied to held subjects, per table: each row's key (as text; `[tableoid, ctid]` for a table without primary
/// key) and the hold that protects it.
pub type HeldReach = HashMap<pg_sys::Oid, HashMap<Vec<String>, Hold>>;

/// The reach of every held subject (as an erasure would find it), restricted to `tables`: only kinds whose plan
/// covers one of them are walked. `what` names the caller's purpose in privilege errors (reading the held
/// subjects' reach needs the caller's own SELECT on it).
pub fn held_reach(
    client: &mut SpiClient<'_>,
    tables: &HashSet<pg_sys::Oid>,
    what: &str,
) -> Result<HeldReach> {
    let mut held: HeldReach = HashMap::new();
    for kind in held_kinds()? {
        let plan = match cache::plan_for(&kind) {
            Ok(plan) => plan,
            // Another owner's broken declaration must not stop erasures its subjects do not reach.
            Err(e) if kind_reaches(&kind, tables)? => {
                return Err(e.in_context(&format!(
                    "the reach of held {kind} subjects cannot be computed"
                )))
            }
            Err(_) => continue,
        };
        if !plan.tables.iter().any(|t| tables.contains(&t.table.oid)) {
            continue;
        }
        super::erase::require_entitlement(&plan, true, what)?;
        let holds: Vec<Hold> = active(&kind, None)?
            .into_iter()
            .filter(|h| key_of_label(&plan, &h.subject_id).len() == plan.root_key_len)
            .collect();
        let ids: Vec<Vec<String>> = holds
            .iter()
            .map(|h| key_of_label(&plan, &h.subject_id))
            .collect();
        let (reach, _) = find_rows(client, &plan, &ids, Purpose::Read)?;
        for (t, r) in plan.tables.iter().zip(&reach) {
            if !tables.contains(&t.table.oid) {
                continue;
            }
            let rows = held.entry(t.table.oid).or_default();
            for (row, &owner) in r.rows.iter().zip(&r.owners) {
                let key = row_key(t, row);
                let hold = holds.get(owner).or_else(|| holds.first());
                if let (Some(key), Some(hold)) = (key, hold) {
                    rows.entry(key).or_insert_with(|| hold.clone());
                }
            }
        }
    }
    Ok(held)
}

/// The keys of the rows of `table` tied to a held subject of any kind (see `held_reach`).
pub fn held_rows(
    client: &mut SpiClient<'_>,
    table: pg_sys::Oid,
    what: &str,
) -> Result<HashSet<Vec<String>>> {
    let mut reach = held_reach(client, &HashSet::from([table]), what)?;
    Ok(reach
        .remove(&table)
        .map(|rows| rows.into_keys().collect())
        .unwrap_or_default())
}

/// Whether any hold is active (most erasures need look no further).
pub fn any_active() -> Result<bool> {
    Ok(!held_kinds()?.is_empty())
}

/// A row an erasure found that a hold protects: the subject whose reach found it (position in the ids), the
/// hold, and why — the held subject itself, or a row of `table` in a held subject's reach.
pub struct Conflict {
    pub owner: usize,
    pub hold: Hold,
    pub table: Option<String>,
}

impl Conflict {
    pub fn refusal(&self, kind: &str, what: &str) -> GdprError {
        match &self.table {
            None => self.hold.refusal(kind),
            Some(table) => self.hold.reached_by(what, table),
        }
    }
}

/// The rows of an erasure's reach that holds protect: held subjects among its own, and rows in any held
/// subject's reach. Empty when no hold is active.
pub fn conflicts(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    reach: &[Reach],
    what: &str,
) -> Result<Vec<Conflict>> {
    if reach[0].rows.is_empty() || !any_active()? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let labels: Vec<(String, usize)> = reach[0]
        .rows
        .iter()
        .zip(&reach[0].owners)
        .filter_map(|(row, &owner)| row_label(plan, row).map(|l| (l, owner)))
        .collect();
    let names: Vec<String> = labels.iter().map(|(l, _)| l.clone()).collect();
    for hold in active(&plan.kind, Some(&names))? {
        if let Some((_, owner)) = labels.iter().find(|(l, _)| *l == hold.subject_id) {
            out.push(Conflict {
                owner: *owner,
                hold,
                table: None,
            });
        }
    }
    let tables: HashSet<pg_sys::Oid> = plan.tables.iter().map(|t| t.table.oid).collect();
    let held = held_reach(client, &tables, what)?;
    for (t, r) in plan.tables.iter().zip(reach) {
        let Some(held_rows) = held.get(&t.table.oid) else {
            continue;
        };
        for (row, &owner) in r.rows.iter().zip(&r.owners) {
            check_for_interrupts!();
            if let Some(hold) = row_key(t, row).and_then(|k| held_rows.get(&k)) {
                out.push(Conflict {
                    owner,
                    hold: hold.clone(),
                    table: Some(t.table.display.clone()),
                });
            }
        }
    }
    Ok(out)
}

/// Places a hold on subject `kind`/`id`: the subject must exist (its row is locked FOR KEY SHARE, so an erasure
/// running now finishes first, and one starting later sees the hold).
fn place(kind: &str, id: Vec<String>, reason: &str) -> Result<i64> {
    if reason.trim().is_empty() {
        return Err(GdprError::InvalidParameter(format!(
            "a legal hold on {kind} {} needs a reason",
            super::reach::subject_label(&id)
        )));
    }
    let plan = cache::plan_for(kind)?;
    check_key_length(&plan, &id)?;
    let what = format!(
        "placing a legal hold on {kind} {}",
        super::reach::subject_label(&id)
    );
    require_privileges(&plan.tables[0].table, &[Privilege::Select], &what)?;
    let id = check_key_values(&plan, &id)?;
    lock_holds(pg_sys::ShareRowExclusiveLock)?;
    let types = vec![TEXT_ARRAY; plan.root_key_len];
    let args: Vec<pgrx::datum::DatumWithOid<'_>> =
        id.iter().map(|v| vec![v.clone()].into()).collect();
    let root = &plan.tables[0].table;
    let found =
        Spi::connect_mut(|client| fetch(client, root, &plan.root_select_unlocked, &types, &args))?;
    let label = found
        .first()
        .and_then(|row| row_label(&plan, row))
        .unwrap_or_else(|| super::reach::subject_label(&id));
    // An anonymized subject's row stays: the log says it was erased all the same.
    if !audit::erased_among(kind, std::slice::from_ref(&label))?.is_empty() {
        return Err(GdprError::ObjectState(format!(
            "{kind} {label} was erased; there is nothing left to hold"
        )));
    }
    if found.is_empty() {
        return Err(GdprError::NoDataFound(format!(
            "{kind} {label} not found in {}",
            root.display
        )));
    }
    let (placed_by, _) = caller()?;
    as_extension_owner(|| {
        Ok(Spi::get_one_with_args::<i64>(
            "INSERT INTO gdpr.legal_hold (kind, subject_id, reason, placed_by) VALUES ($1, $2, $3, $4) RETURNING id",
            &[kind.into(), label.as_str().into(), reason.into(), placed_by.as_str().into()],
        )?
        .unwrap_or_default())
    })
}

fn release(hold_id: i64) -> Result<Value> {
    let (released_by, _) = caller()?;
    as_extension_owner(|| {
        let state = Spi::get_two_with_args::<String, String>(
            "SELECT kind || ' ' || subject_id, released_at::text FROM gdpr.legal_hold WHERE id = $1 FOR UPDATE",
            &[hold_id.into()],
        );
        let (subject, released_at) = match state {
            Ok(v) => v,
            Err(pgrx::spi::SpiError::InvalidPosition) => (None, None),
            Err(e) => return Err(e.into()),
        };
        let Some(subject) = subject else {
            return Err(GdprError::NoDataFound(format!(
                "legal hold {hold_id} does not exist"
            )));
        };
        if let Some(at) = released_at {
            return Err(GdprError::ObjectState(format!(
                "legal hold {hold_id} on {subject} was released at {at}"
            )));
        }
        let at = Spi::get_one_with_args::<String>(
            "UPDATE gdpr.legal_hold SET released_by = $2, released_at = pg_catalog.clock_timestamp()
              WHERE id = $1 RETURNING released_at::text",
            &[hold_id.into(), released_by.as_str().into()],
        )?;
        Ok(
            json!({"hold_id": hold_id, "subject": subject, "released_by": released_by, "released_at": at}),
        )
    })
}

/// Places a legal hold on a subject; returns the hold's id (see `gdpr.legal_holds`).
#[pg_extern(name = "place_legal_hold", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn place_legal_hold(kind: Option<&str>, id: Option<&str>, reason: Option<&str>) -> i64 {
    let kind = required(kind, "place_legal_hold", "kind").or_report();
    let id = required(id, "place_legal_hold", "id").or_report();
    let reason = required(reason, "place_legal_hold", "reason").or_report();
    place(kind, vec![id.to_string()], reason).or_report()
}

/// The same for a subject with a composite key: `id` lists the key values in key order.
#[pg_extern(name = "place_legal_hold", volatile)]
#[search_path(pg_catalog, pg_temp)]
fn place_legal_hold_composite(
    kind: Option<&str>,
    id: Option<Vec<Option<String>>>,
    reason: Option<&str>,
) -> i64 {
    let kind = required(kind, "place_legal_hold", "kind").or_report();
    let id: Vec<String> = required(id, "place_legal_hold", "id")
        .or_report()
        .into_iter()
        .collect::<Option<_>>()
        .unwrap_or_else(|| {
            GdprError::NullValue(format!("the {kind} id of a legal hold must not hold NULL"))
                .report()
        });
    let reason = required(reason, "place_legal_hold", "reason").or_report();
    place(kind, id, reason).or_report()
}

/// Releases a legal hold: the subject can be erased again. The hold stays in `gdpr.legal_holds`, released.
#[pg_extern(volatile)]
#[search_path(pg_catalog, pg_temp)]
fn release_legal_hold(hold_id: Option<i64>) -> pgrx::JsonB {
    let hold_id = required(hold_id, "release_legal_hold", "hold_id").or_report();
    pgrx::JsonB(release(hold_id).or_report())
}
