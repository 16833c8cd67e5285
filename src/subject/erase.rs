//! Executes an erasure plan: finds every row tied to the subjects (set-based, driven by the keys found so far;
//! one pass for one subject or a thousand), then anonymizes and deletes them, and reports what was (or, in a
//! dry run, would be) changed — per subject, each with its own erasure id and log entry.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgOid;
use rand::Rng;
use serde_json::{json, Value};

use super::guard;
use super::holds::{self, Hold};
use super::identifiers::subject_identifiers;
use super::plan::{Action, ErasurePlan, Identity, PlanTable};
use super::reach::{
    check_key_length, check_key_values, execute, find_rows, identity_args, reached_paths,
    row_label, subject_label, EdgeCount, Purpose, Reach, Row,
};
use super::traces;
use crate::audit;

mod checks;
mod closure;
use crate::cache;
use crate::error::{GdprError, Result};
use crate::privilege::{require_privileges, Privilege};
use crate::strategy::{self, Param, SubjectIdentifiers};

/// The parameters after the row-identity ones of an UPDATE: the key, the plan's values, the identifiers' token.
type Extra<'a> = Option<(&'a [u8], &'a [Param], i64)>;

fn extra_datums<'a>(extra: &Extra<'a>) -> Vec<DatumWithOid<'a>> {
    extra.map_or_else(Vec::new, |(key, params, token)| {
        strategy::param_datums(key, params, token)
    })
}

/// Runs `sql` (whose first parameters identify rows, see `Identity`) for all `rows`, with `extra` parameters
/// appended. Returns the number of rows changed.
fn run_for_rows(
    client: &mut SpiClient<'_>,
    table: &PlanTable,
    doing: &str,
    sql: &str,
    types: &[PgOid],
    rows: &[Row],
    extra: Extra<'_>,
) -> Result<usize> {
    let mut done = 0;
    for mut args in identity_args(table, rows) {
        args.extend(extra_datums(&extra));
        done += execute(client, &table.table, doing, sql, types, &args)?;
    }
    Ok(done)
}

pub fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::strategy::pseudonym::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Deferrable constraints the erasure fires are checked at once while it changes rows: PostgreSQL refuses to
/// queue deferred checks inside the security-restricted operations the statements run in. Afterwards the
/// INITIALLY DEFERRED ones are deferred again (as the caller, outside any such operation).
fn set_constraints(client: &mut SpiClient<'_>, plan: &ErasurePlan, immediate: bool) -> Result<()> {
    let names: Vec<&str> = plan
        .deferrable
        .iter()
        .filter(|(_, initially_deferred)| immediate || *initially_deferred)
        .map(|(name, _)| name.as_str())
        .collect();
    if !names.is_empty() {
        let mode = if immediate { "IMMEDIATE" } else { "DEFERRED" };
        client.update(
            &format!("SET CONSTRAINTS {} {mode}", names.join(", ")),
            None,
            &[],
        )?;
    }
    Ok(())
}

fn apply(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    reach: &[Reach],
    ids: &SubjectIdentifiers,
    unlinks: &[(usize, Vec<Row>)],
) -> Result<()> {
    set_constraints(client, plan, true)?;
    let key: [u8; 32] = rand::rng().random(); // one-time key: dropped when this function returns
    let token = strategy::scrub::register(ids);
    for (t, r) in plan.tables.iter().zip(reach) {
        let Some(sql) = t
            .update_sql
            .as_deref()
            .filter(|_| t.action == Action::Anonymize && !r.rows.is_empty())
        else {
            continue;
        };
        let extra: Extra<'_> = Some((&key, &t.update_params, token));
        let types = t.update_types();
        let changed = run_for_rows(client, t, "anonymizing", sql, &types, &r.rows, extra)?;
        if matches!(t.identity, Identity::Ctid) && changed != r.rows.len() {
            return Err(GdprError::ObjectChanged(format!(
                "{} of {} rows of {} (a table without primary key) changed while being erased; retry the erasure",
                r.rows.len() - changed,
                r.rows.len(),
                t.table.display
            )));
        }
    }
    // Keys that point against the delete order (a cycle) are cut first in the rows about to be deleted.
    for (k, rows) in unlinks {
        let key = &plan.delete_cycles[*k];
        let table = &plan.tables[key.child];
        if let Some(sql) = key.unlink_sql.as_deref() {
            let types = table.identity_types();
            run_for_rows(client, table, "unlinking", sql, &types, rows, None)?;
        }
    }
    for &t in &plan.delete_order {
        if !reach[t].rows.is_empty() {
            let table = &plan.tables[t];
            run_for_rows(
                client,
                table,
                "deleting from",
                &table.delete_sql,
                &table.identity_types(),
                &reach[t].rows,
                None,
            )?;
        }
    }
    set_constraints(client, plan, false)
}

fn table_report(plan: &ErasurePlan, reach: &[Reach], edge_counts: &[EdgeCount]) -> Vec<Value> {
    let paths = reached_paths(plan, edge_counts);
    plan.tables
        .iter()
        .enumerate()
        .filter(|(i, _)| reach[*i].count() > 0)
        .map(|(i, t)| {
            let action = action_name(t);
            let owned_counts = edge_counts.get(plan.edges.len()..).unwrap_or_default();
            let via: Vec<Value> = plan
                .edges
                .iter()
                .map(|e| (e.child, &e.label))
                .chain(plan.owned.iter().map(|o| (o.parent, &o.label)))
                .zip(edge_counts.iter().chain(owned_counts))
                .filter(|((reached, _), c)| *reached == i && c.matched > 0)
                .map(|((_, label), c)| json!({"reference": label, "rows": c.matched, "first_reached": c.first_reached}))
                .collect();
            let mut entry = json!({
                "table": t.table.display,
                "action": action,
                "rows": reach[i].count(),
                "path": paths[i],
            });
            if t.action == Action::Anonymize {
                entry["columns"] = json!(t.changed);
            }
            if !via.is_empty() {
                entry["via"] = Value::Array(via);
            }
            entry
        })
        .collect()
}

/// Who asked for an erasure (logged with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Request,
    Retention,
    Consent,
    /// An erasure of a restored backup's data again (gdpr.replay_erasures), under the original erasure id.
    Replay,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Request => "request",
            Origin::Retention => "retention",
            Origin::Consent => "consent",
            Origin::Replay => "replay",
        }
    }
}

/// How an erasure is logged: one entry per subject (subjects of a kind), or one for the whole set of rows
/// (expired rows of a table that is no subject's: their keys are the entry's subject id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logging {
    PerSubject,
    PerBatch,
}

/// What an erasure does with subjects a legal hold protects (held, or sharing rows with a held subject).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnHold {
    /// Refuse the whole erasure (55000) — a person's request; a dry run reports the holds.
    Fail,
    /// Leave those subjects and erase the others — retention and consent withdrawals.
    Skip,
}

#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub dry_run: bool,
    pub traces: bool,
    pub origin: Origin,
    pub logging: Logging,
    pub on_hold: OnHold,
    /// The erasure id to log under (a replay keeps the original's); None: a new one. Erasures of one subject,
    /// or logged per batch, only.
    pub erasure_id: Option<&'a str>,
}

impl Options<'static> {
    pub fn request(dry_run: bool, traces: bool) -> Options<'static> {
        Options {
            dry_run,
            traces,
            origin: Origin::Request,
            logging: Logging::PerSubject,
            on_hold: OnHold::Fail,
            erasure_id: None,
        }
    }
}

/// A subject an erasure found (and erased, unless a dry run).
pub struct Erased {
    pub subject_id: String,
    pub erasure_id: String,
    pub rows: usize,
    /// Per table: action and rows, as logged.
    pub tables: serde_json::Map<String, Value>,
}

/// What one pass of the engine did.
pub struct Outcome {
    pub batch_id: String,
    pub erased: Vec<Erased>,
    /// Ids that found no row: erased before, or never there.
    pub already_erased: Vec<String>,
    pub not_found: Vec<String>,
    /// Holds on found subjects (a dry run reports them; a real erasure fails on the first).
    pub holds: Vec<Hold>,
    pub total_rows: usize,
    pub tables: Vec<Value>,
    pub traces: Vec<Value>,
    /// Rows outside the erasure that excluded CASCADE / SET NULL / SET DEFAULT keys change.
    pub cascades: Vec<Value>,
    pub duration_ms: f64,
    /// Subjects left because a hold protects them or rows in their reach (`OnHold::Skip`).
    pub held_skipped: Vec<String>,
}

/// Erases (or, with `dry_run`, reports) every row tied to the subject `kind`/`id` in one transaction.
/// With `traces`, the declared trace columns are searched for the subject's identifiers too, and each trace
/// table's action applied to the rows found (see traces.rs).
pub fn erase(kind: &str, id: Vec<Option<String>>, dry_run: bool, traces: bool) -> Result<Value> {
    erase_as(kind, id, Options::request(dry_run, traces))
}

/// `erase` on behalf of `options.origin`.
pub fn erase_as(kind: &str, id: Vec<Option<String>>, options: Options<'_>) -> Result<Value> {
    crate::privilege::require_primary(&format!("erasing a {kind}"))?;
    let started = Instant::now();
    let id: Vec<String> = id
        .into_iter()
        .collect::<Option<Vec<String>>>()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| GdprError::NullValue(format!("the {kind} id to erase must not be NULL")))?;
    let plan = cache::plan_for(kind)?;
    let outcome = run(&plan, vec![id], options, started)?;
    single_report(&plan, outcome, options)
}

/// Erases the row of a table with primary key `id`, and everything tied to it (`kind` labels the report and
/// the log). Used for the rows collected under a withdrawn consent.
/// A row a hold protects (its own reach meets a held subject's) is left: the report says `"held": true`.
pub fn erase_row(kind: &str, table: pg_sys::Oid, id: Vec<String>) -> Result<Value> {
    let plan = cache::plan_for_table(kind, table, None)?;
    let options = Options {
        origin: Origin::Consent,
        on_hold: OnHold::Skip,
        ..Options::request(false, false)
    };
    let outcome = run(&plan, vec![id], options, Instant::now())?;
    single_report(&plan, outcome, options)
}

/// Erases many subjects of `kind` in one pass of the engine (`gdpr.anonymize_subjects`).
pub fn erase_many(kind: &str, ids: Vec<Vec<String>>, options: Options<'_>) -> Result<Value> {
    crate::privilege::require_primary(&format!("erasing {kind} subjects"))?;
    let started = Instant::now();
    let plan = cache::plan_for(kind)?;
    let outcome = run(&plan, ids, options, started)?;
    Ok(batch_report(&plan, &outcome, options.dry_run))
}

/// The report of an erasure of one subject.
fn single_report(plan: &ErasurePlan, outcome: Outcome, options: Options<'_>) -> Result<Value> {
    let kind = plan.kind.as_str();
    let Some(subject) = outcome.erased.first() else {
        if let Some(subject_id) = outcome.held_skipped.first() {
            // Left because a legal hold protects it or rows it reaches (OnHold::Skip).
            return Ok(json!({
                "erasure_id": null, "kind": kind, "subject_id": subject_id, "dry_run": options.dry_run,
                "held": true, "total_rows": 0, "tables": [], "duration_ms": outcome.duration_ms,
            }));
        }
        if let Some(subject_id) = outcome.already_erased.first() {
            // Erased and deleted before: erasing again is harmless and reports nothing left.
            return Ok(json!({
                "erasure_id": outcome.batch_id, "kind": kind, "subject_id": subject_id,
                "dry_run": options.dry_run, "already_erased": true, "total_rows": 0, "tables": [],
                "duration_ms": outcome.duration_ms,
            }));
        }
        return Err(GdprError::NoDataFound(format!(
            "{kind} {} not found in {}",
            outcome.not_found.first().map_or("", String::as_str),
            plan.tables[0].table.display
        )));
    };
    let mut report = json!({
        "erasure_id": subject.erasure_id,
        "kind": kind,
        "subject_id": subject.subject_id,
        "dry_run": options.dry_run,
        "total_rows": outcome.total_rows,
        "tables": outcome.tables,
        "duration_ms": outcome.duration_ms,
    });
    if options.traces {
        report["traces"] = Value::Array(outcome.traces);
    }
    if options.dry_run && !plan.excluded_by_rule.is_empty() {
        report["excluded_by_rule"] = json!(plan.excluded_by_rule);
    }
    if !outcome.cascades.is_empty() {
        report["excluded_cascades"] = Value::Array(outcome.cascades);
    }
    if !outcome.holds.is_empty() {
        report["legal_holds"] = outcome.holds.iter().map(Hold::to_json).collect();
    }
    Ok(report)
}

/// The report of an erasure of many subjects: totals per table, then each subject with its erasure id.
pub fn batch_report(plan: &ErasurePlan, outcome: &Outcome, dry_run: bool) -> Value {
    let mut report = json!({
        "batch_id": outcome.batch_id,
        "kind": plan.kind,
        "dry_run": dry_run,
        "subjects": outcome.erased.len(),
        "total_rows": outcome.total_rows,
        "tables": outcome.tables,
        "erased": outcome.erased.iter().map(|e| json!({
            "subject_id": e.subject_id, "erasure_id": e.erasure_id, "rows": e.rows,
        })).collect::<Vec<_>>(),
        "already_erased": outcome.already_erased,
        "not_found": outcome.not_found,
        "duration_ms": outcome.duration_ms,
    });
    if dry_run && !plan.excluded_by_rule.is_empty() {
        report["excluded_by_rule"] = json!(plan.excluded_by_rule);
    }
    if !outcome.cascades.is_empty() {
        report["excluded_cascades"] = json!(outcome.cascades);
    }
    if !outcome.holds.is_empty() {
        report["legal_holds"] = outcome.holds.iter().map(Hold::to_json).collect();
    }
    report
}

/// The keys of the erased rows other rows point at, per table and column set, for the erased-subject guard:
/// each recorded under the erasure of the subject whose reach found it.
fn markers(
    plan: &ErasurePlan,
    reach: &[Reach],
    erasure_ids: &[Option<String>],
    batch_id: &str,
) -> Vec<guard::Markers> {
    let mut out = Vec::new();
    for (t, r) in plan.tables.iter().zip(reach) {
        for m in &t.markers {
            let mut by_erasure: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (row, &owner) in r.rows.iter().zip(&r.owners) {
                let values: Option<Vec<&str>> =
                    m.positions.iter().map(|p| row[p + 2].as_deref()).collect();
                if let Some(values) = values {
                    let id = erasure_ids
                        .get(owner)
                        .and_then(Option::as_deref)
                        .unwrap_or(batch_id);
                    by_erasure
                        .entry(id)
                        .or_default()
                        .push(guard::marker_key(&values));
                }
            }
            for (erasure_id, keys) in by_erasure {
                out.push(guard::Markers {
                    erasure_id: erasure_id.to_string(),
                    table: t.table.oid,
                    cols: m.cols.clone(),
                    keys,
                });
            }
        }
    }
    out
}

/// Checks, before anything is read, that the caller may itself do what the erasure does: SELECT every table it
/// reaches (and every table it reads identifiers from), UPDATE each it anonymizes, DELETE each it deletes
/// from — with no row hidden from it by row-level security. The statements then run as each table's owner.
pub fn require_entitlement(plan: &ErasurePlan, dry_run: bool, what: &str) -> Result<()> {
    for t in &plan.tables {
        if !dry_run && t.skip_when_erasing {
            continue; // not read by a real erasure
        }
        let mut needed = vec![Privilege::Select];
        if !dry_run {
            match t.action {
                Action::Delete => needed.push(Privilege::Delete),
                Action::Anonymize if t.update_sql.is_some() => needed.push(Privilege::Update),
                Action::Anonymize => {}
            }
        }
        require_privileges(&t.table, &needed, what)?;
    }
    for source in &plan.identifier_sources {
        require_privileges(&source.table, &[Privilege::Select], what)?;
    }
    // Whether an owned parent row is still used is read from every table referencing it.
    for x in plan.owned.iter().flat_map(|o| &o.referrers) {
        require_privileges(&x.table, &[Privilege::Select], what)?;
    }
    Ok(())
}

fn action_name(t: &PlanTable) -> &'static str {
    match t.action {
        Action::Delete => "delete",
        Action::Anonymize if t.changed.is_empty() => "keep",
        Action::Anonymize => "anonymize",
    }
}

/// One pass of the engine over the subjects `ids` (keys as typed): checks, finds every row tied to any of
/// them (one set of statements for all), refuses held subjects, changes the rows, records the guard's markers
/// and logs — all in the caller's transaction.
pub fn run(
    plan: &ErasurePlan,
    ids: Vec<Vec<String>>,
    options: Options<'_>,
    started: Instant,
) -> Result<Outcome> {
    let kind = plan.kind.as_str();
    let dry_run = options.dry_run;
    for id in &ids {
        check_key_length(plan, id)?;
    }
    if options.erasure_id.is_some() && ids.len() > 1 && options.logging == Logging::PerSubject {
        return Err(GdprError::InvalidParameter(format!(
            "one erasure id for {} {kind} subjects logged one by one",
            ids.len()
        )));
    }
    let what = format!(
        "{}erasing {}",
        if dry_run { "a dry run of " } else { "" },
        match ids.as_slice() {
            [id] => format!("{kind} {}", subject_label(id)),
            _ => format!("{} {kind} subjects", ids.len()),
        }
    );
    require_entitlement(plan, dry_run, &what)?;
    let trace_tables = if options.traces {
        let tables = traces::declared()?;
        traces::require_entitlement(&tables, !dry_run, &what)?;
        Some(tables)
    } else {
        None
    };

    let mut canonical: Vec<Vec<String>> = Vec::with_capacity(ids.len());
    let mut seen = HashSet::new();
    for id in &ids {
        check_for_interrupts!();
        let id = check_key_values(plan, id)?;
        if seen.insert(id.clone()) {
            canonical.push(id);
        }
    }
    let ids = canonical;

    // Holds are decided on what is committed now and cannot change until this erasure commits.
    if !dry_run {
        holds::block_new_holds()?;
    }
    // Retention and withdrawals leave the subjects a hold protects (found first by a read-only reach: a real
    // one deletes some leaf rows as it goes).
    let mut held_skipped = Vec::new();
    let mut ids = ids;
    if options.on_hold == OnHold::Skip && holds::any_active()? {
        let skip: HashSet<usize> = Spi::connect_mut(|client| {
            let (reach, _) = find_rows(client, plan, &ids, Purpose::Read)?;
            let conflicts = holds::conflicts(client, plan, &reach, &what)?;
            if let Some(c) = conflicts.iter().find(|c| c.owner >= ids.len()) {
                return Err(c.refusal(kind, &what)); // a protected row no subject of the set is known to own
            }
            Ok::<_, GdprError>(conflicts.iter().map(|c| c.owner).collect())
        })?;
        let mut kept = Vec::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            if skip.contains(&i) {
                held_skipped.push(subject_label(&id));
            } else {
                kept.push(id);
            }
        }
        ids = kept;
    }

    let purpose = if dry_run {
        Purpose::Read
    } else {
        Purpose::Erase
    };
    let (reach, edge_counts, conflicts) = Spi::connect_mut(|client| {
        let (reach, edge_counts) = find_rows(client, plan, &ids, purpose)?;
        let conflicts = holds::conflicts(client, plan, &reach, &what)?;
        Ok::<_, GdprError>((reach, edge_counts, conflicts))
    })?;
    if let (false, Some(c)) = (dry_run, conflicts.first()) {
        return Err(c.refusal(kind, &what));
    }
    let mut holds: Vec<Hold> = Vec::new();
    for c in conflicts {
        if !holds.iter().any(|h| h.id == c.hold.id) {
            holds.push(c.hold);
        }
    }

    // Found subjects by the position of their id; their labels as stored.
    let mut label_of: Vec<Option<String>> = vec![None; ids.len()];
    for (row, &owner) in reach[0].rows.iter().zip(&reach[0].owners) {
        if let Some(slot) = label_of.get_mut(owner) {
            *slot = row_label(plan, row).or_else(|| Some(subject_label(&ids[owner])));
        }
    }

    let mut trace_report = Vec::new();
    let mut cascades = Vec::new();
    if !reach[0].rows.is_empty() {
        let deleted = checks::effectively_deleted(plan, &edge_counts);
        checks::check_delete_conflicts(plan, &edge_counts, &deleted)?;
        let unlinks = checks::check_delete_cycles(plan, &reach, dry_run, &what)?;
        cascades = Spi::connect_mut(|client| {
            let cascades = checks::check_excluded_referrers(client, plan, &reach, &deleted, &what)?;
            closure::check_delete_closure(client, plan, &reach, &what)?;
            Ok::<_, GdprError>(cascades)
        })?;
        if !dry_run || trace_tables.is_some() {
            trace_report = Spi::connect_mut(|client| {
                let identifiers = subject_identifiers(client, plan, &reach)?;
                let _own_writes = guard::engine_writes();
                if !dry_run {
                    apply(client, plan, &reach, &identifiers.all, &unlinks)?;
                }
                // After the erasure: a trace table the erasure also reached is searched as it left it.
                match trace_tables {
                    Some(tables) => {
                        let found = traces::search(client, tables, &identifiers.reached)?;
                        if dry_run {
                            Ok(traces::preview(&found))
                        } else {
                            traces::apply(client, &found, &identifiers.reached)
                        }
                    }
                    None => Ok(Vec::new()),
                }
            })?;
            strategy::scrub::unregister();
        }
    }

    let batch_id = options.erasure_id.map_or_else(random_uuid, str::to_string);
    let erasure_ids: Vec<Option<String>> = label_of
        .iter()
        .map(|l| match (l, ids.len()) {
            (Some(_), 1) => Some(batch_id.clone()),
            (Some(_), _) => Some(random_uuid()),
            (None, _) => None,
        })
        .collect();
    let missing: Vec<String> = ids
        .iter()
        .zip(&label_of)
        .filter(|(_, l)| l.is_none())
        .map(|(id, _)| subject_label(id))
        .collect();
    let already_erased = if missing.is_empty() {
        Vec::new()
    } else {
        audit::erased_among(kind, &missing)?
    };
    let not_found: Vec<String> = missing
        .into_iter()
        .filter(|m| !already_erased.contains(m))
        .collect();

    if !dry_run {
        // Markers carry the erasure id the log has: the subject's, or the batch's when the batch is logged whole.
        let marker_ids = match options.logging {
            Logging::PerSubject => erasure_ids.clone(),
            Logging::PerBatch => vec![Some(batch_id.clone()); ids.len()],
        };
        guard::record(markers(plan, &reach, &marker_ids, &batch_id))?;
    }

    // Per subject and table: the rows its reach found first.
    let counts: Vec<Vec<usize>> = reach.iter().map(|r| r.count_by_owner(ids.len())).collect();
    let mut erased: Vec<Erased> = Vec::new();
    for (owner, label) in label_of.iter().enumerate() {
        let (Some(subject_id), Some(erasure_id)) = (label, &erasure_ids[owner]) else {
            continue;
        };
        let mut tables = serde_json::Map::new();
        let mut rows = 0;
        for (t, table_counts) in plan.tables.iter().zip(&counts) {
            let n = table_counts[owner];
            if n > 0 {
                rows += n;
                tables.insert(
                    t.table.display.clone(),
                    json!({"action": action_name(t), "rows": n}),
                );
            }
        }
        erased.push(Erased {
            subject_id: subject_id.clone(),
            erasure_id: erasure_id.clone(),
            rows,
            tables,
        });
    }
    if let Some(first) = erased.first_mut() {
        for t in &trace_report {
            first.tables.insert(
                format!("{} (traces)", t["table"].as_str().unwrap_or_default()),
                json!({"action": t["action"], "rows": t["rows"]}),
            );
        }
    }

    let tables = table_report(plan, &reach, &edge_counts);
    let total_rows: usize = reach.iter().map(Reach::count).sum();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let batch = (ids.len() > 1).then_some(batch_id.as_str());
    match options.logging {
        Logging::PerSubject => audit::append_all(
            &erased
                .iter()
                .map(|e| audit::Entry {
                    erasure_id: &e.erasure_id,
                    kind,
                    subject_id: &e.subject_id,
                    dry_run,
                    rows_total: e.rows as i64,
                    tables: Value::Object(e.tables.clone()),
                    duration_ms,
                    origin: options.origin.as_str(),
                    batch_id: batch,
                })
                .collect::<Vec<_>>(),
        )?,
        Logging::PerBatch if !erased.is_empty() => {
            // The rows' keys: values of a one-column key, arrays of values for a composite one.
            let keys: Vec<Value> = erased
                .iter()
                .map(|e| match plan.root_key_len {
                    1 => Value::String(e.subject_id.clone()),
                    _ => serde_json::from_str(&e.subject_id)
                        .unwrap_or_else(|_| Value::String(e.subject_id.clone())),
                })
                .collect();
            let log_tables: serde_json::Map<String, Value> = tables
                .iter()
                .map(|t| {
                    let name = t["table"].as_str().unwrap_or_default().to_string();
                    (name, json!({"action": t["action"], "rows": t["rows"]}))
                })
                .collect();
            audit::append(audit::Entry {
                erasure_id: &batch_id,
                kind,
                subject_id: &serde_json::to_string(&keys)?,
                dry_run,
                rows_total: total_rows as i64,
                tables: Value::Object(log_tables),
                duration_ms,
                origin: options.origin.as_str(),
                batch_id: None,
            })?
        }
        Logging::PerBatch => {}
    }
    Ok(Outcome {
        batch_id,
        erased,
        already_erased,
        not_found,
        holds,
        total_rows,
        tables,
        traces: trace_report,
        cascades,
        duration_ms,
        held_skipped,
    })
}
