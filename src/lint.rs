//! `gdpr.lint()`: problems that make erasures slow or fail, found from the declarations and the catalog.

use pgrx::prelude::*;

use crate::cache;
use crate::error::{GdprError, OrReport, Result};
use crate::subject::plan::ErasurePlan;

pub struct Finding {
    pub kind: String,
    pub severity: &'static str,
    pub object: String,
    pub message: String,
}

/// Whether some valid, non-partial index of `table` serves a statement comparing `cols` (with `= ANY`) and
/// `also_equal` (a polymorphic link's type column, with `=`): its leading key columns are all among those, in
/// any order, and include one of `cols` — `(record_type, record_id)` serves `record_id = ANY(…) AND
/// record_type = 'Guest'`; `(record_type)` alone does not.
fn has_serving_index(table: pg_sys::Oid, cols: &[String], also_equal: &[String]) -> Result<bool> {
    let indexes: Vec<Vec<Option<String>>> = Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT ARRAY(SELECT a.attname::text
                            FROM pg_catalog.unnest(i.indkey::pg_catalog.int2[]) WITH ORDINALITY AS k(attnum, ord)
                            LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                           ORDER BY k.ord)
               FROM pg_catalog.pg_index i
              WHERE i.indrelid = $1 AND i.indpred IS NULL AND i.indisvalid",
            None,
            &[table.into()],
        )? {
            out.push(r.get::<Vec<Option<String>>>(1)?.unwrap_or_default());
        }
        Ok::<_, GdprError>(out)
    })?;
    let equal = |c: &Option<String>| {
        c.as_ref()
            .is_some_and(|c| cols.contains(c) || also_equal.contains(c))
    };
    Ok(indexes.iter().any(|index| {
        index
            .iter()
            .take_while(|c| equal(c))
            .any(|c| c.as_ref().is_some_and(|c| cols.contains(c)))
    }))
}

fn lint_plan(plan: &ErasurePlan, out: &mut Vec<Finding>) -> Result<()> {
    for edge in &plan.edges {
        let child = &plan.tables[edge.child].table;
        let type_col: Vec<String> = edge.discriminator_column.iter().cloned().collect();
        if !has_serving_index(child.oid, &edge.child_cols, &type_col)? {
            out.push(Finding {
                kind: plan.kind.clone(),
                severity: "warning",
                object: format!("{}({})", child.display, edge.child_cols.join(", ")),
                message: format!(
                    "no index leads with these columns: every erasure scans all of {} to follow {}",
                    child.display, edge.label
                ),
            });
        }
    }
    Ok(())
}

pub fn lint_all() -> Result<Vec<Finding>> {
    crate::privilege::require_primary("gdpr.lint()")?;
    let kinds: Vec<String> = Spi::connect(|client| {
        let mut kinds = Vec::new();
        for r in client.select("SELECT kind FROM gdpr.subject ORDER BY kind", None, &[])? {
            kinds.extend(r.get::<String>(1)?);
        }
        Ok::<_, GdprError>(kinds)
    })?;
    let mut out = Vec::new();
    for kind in kinds {
        match cache::plan_for(&kind) {
            Ok(plan) => {
                lint_plan(&plan, &mut out)?;
                lint_find(&plan, &mut out)?;
            }
            // A plan that cannot be built (renamed column, lost primary key...) is itself the finding.
            Err(e) => out.push(Finding {
                kind: kind.clone(),
                severity: "error",
                object: kind.clone(),
                message: e.to_string(),
            }),
        }
    }
    lint_categories(&mut out)?;
    lint_policies(&mut out)?;
    lint_links(&mut out)?;
    lint_guard(&mut out)?;
    lint_consent(&mut out)?;
    lint_retention(&mut out)?;
    lint_holds(&mut out)?;
    Ok(out)
}

/// Active legal holds on a kind no longer declared (its table dropped): they protect nothing any more.
fn lint_holds(out: &mut Vec<Finding>) -> Result<()> {
    let orphaned = crate::privilege::as_extension_owner(|| {
        Spi::connect(|client| {
            let mut found = Vec::new();
            for r in client.select(
                "SELECT h.id, h.kind, h.subject_id FROM gdpr.legal_hold h
                  WHERE h.released_at IS NULL AND NOT EXISTS (SELECT 1 FROM gdpr.subject s WHERE s.kind = h.kind)
                  ORDER BY h.id",
                None,
                &[],
            )? {
                found.push((
                    r.get::<i64>(1)?.unwrap_or_default(),
                    r.get::<String>(2)?.unwrap_or_default(),
                    r.get::<String>(3)?.unwrap_or_default(),
                ));
            }
            Ok::<_, GdprError>(found)
        })
    })?;
    for (id, kind, subject) in orphaned {
        out.push(Finding {
            kind: "legal_hold".into(),
            severity: "warning",
            object: format!("legal hold {id}"),
            message: format!(
                "holds {kind} {subject}, but no subject kind \"{kind}\" is declared any more (its table was dropped): \
                 it protects nothing; release it with gdpr.release_legal_hold({id})"
            ),
        });
    }
    Ok(())
}

/// A retention period whose time column no index leads with: every batch of every run scans the whole table
/// for the oldest expired rows. A declaration that no longer fits is itself the finding.
fn lint_retention(out: &mut Vec<Finding>) -> Result<()> {
    for declared in crate::catalog::retention::load()? {
        match declared.retention {
            Ok(r) => {
                if !has_serving_index(r.table.oid, std::slice::from_ref(&r.time_col.name), &[])? {
                    out.push(Finding {
                        kind: "retention".into(),
                        severity: "warning",
                        object: format!("{}({})", r.table.display, r.time_col.name),
                        message: format!(
                            "no index leads with {}: every retention batch scans all of {} for expired rows \
                             (CREATE INDEX ON {} ({}))",
                            r.time_col.name, r.table.display, r.table.sql_name, r.time_col.sql_name
                        ),
                    });
                }
            }
            Err(e) => out.push(Finding {
                kind: "retention".into(),
                severity: "error",
                object: declared.name,
                message: e.to_string(),
            }),
        }
    }
    Ok(())
}

/// Every declared policy, reached by a subject or not (pseudonymize_table uses them all), must still fit its
/// column: a column whose type changed would otherwise be skipped.
fn lint_policies(out: &mut Vec<Finding>) -> Result<()> {
    let mut policies: Vec<_> = crate::catalog::policies()?.into_iter().collect();
    policies.sort_by_key(|(oid, _)| oid.to_u32());
    for (oid, table_policies) in policies {
        let table = crate::catalog::introspect::table(oid)?;
        if let Err(e) = crate::catalog::check_policies_fit(&table, &table_policies) {
            out.push(Finding {
                kind: "policy".into(),
                severity: "error",
                object: table.display,
                message: e.to_string(),
            });
        }
    }
    Ok(())
}

/// A declared link must target a primary or unique key of its parent (declare_link checks it; a later DROP
/// CONSTRAINT can undo it).
fn lint_links(out: &mut Vec<Finding>) -> Result<()> {
    let links: Vec<(pg_sys::Oid, Vec<String>, pg_sys::Oid, Vec<String>)> = Spi::connect(
        |client| {
            let mut links = Vec::new();
            for r in client.select(
            "SELECT child::oid, child_cols::text[], parent::oid, parent_cols::text[] FROM gdpr.link ORDER BY id",
            None,
            &[],
        )? {
            links.push((
                r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
                r.get::<Vec<String>>(2)?.unwrap_or_default(),
                r.get::<pg_sys::Oid>(3)?.unwrap_or(pg_sys::Oid::INVALID),
                r.get::<Vec<String>>(4)?.unwrap_or_default(),
            ));
        }
            Ok::<_, GdprError>(links)
        },
    )?;
    for (child, child_cols, parent, parent_cols) in links {
        let (child, parent) = (
            crate::catalog::introspect::table(child)?,
            crate::catalog::introspect::table(parent)?,
        );
        if !crate::catalog::introspect::is_unique_key(&parent, &parent_cols)? {
            out.push(Finding {
                kind: "link".into(),
                severity: "error",
                object: format!("{}({})", child.display, child_cols.join(", ")),
                message: format!(
                    "the declared link to {}({}) no longer targets its primary key or a unique key",
                    parent.display,
                    parent_cols.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// Once the erased-subject guard is installed, a reachable table without it (added by a later migration), or
/// whose guard a table owner disabled, accepts late writes for erased subjects.
fn lint_guard(out: &mut Vec<Finding>) -> Result<()> {
    let Ok(tables) = crate::subject::guard::guarded_tables() else {
        return Ok(());
    };
    let mut unguarded = Vec::new();
    let mut any = false;
    for oid in tables {
        match crate::subject::guard::trigger_enabled(oid)? {
            Some(true) => any = true,
            Some(false) => {
                any = true;
                unguarded.push((oid, "its erased-subject guard is disabled: ALTER TABLE … ENABLE TRIGGER gdpr_erased_guard"));
            }
            None => unguarded.push((
                oid,
                "has no erased-subject guard: run gdpr.guard_erased_subjects()",
            )),
        }
    }
    if !any {
        return Ok(());
    }
    for (oid, problem) in unguarded {
        let table = crate::catalog::introspect::table(oid)?;
        out.push(Finding {
            kind: "guard".into(),
            severity: "warning",
            object: table.display.clone(),
            message: format!(
                "{} is reachable from a subject but {problem}",
                table.display
            ),
        });
    }
    Ok(())
}

/// A consent requirement whose trigger or foreign key was dropped or disabled does not enforce anything.
fn lint_consent(out: &mut Vec<Finding>) -> Result<()> {
    Spi::connect(|client| {
        for r in client.select(
            "SELECT table_name::text || '.' || column_name::text, trigger_state, foreign_key IS NULL
               FROM gdpr.consent_requirements
              WHERE trigger_state NOT IN ('enabled', 'always') OR foreign_key IS NULL
              ORDER BY 1",
            None,
            &[],
        )? {
            let object = r.get::<String>(1)?.unwrap_or_default();
            let state = r.get::<String>(2)?.unwrap_or_default();
            let no_fkey = r.get::<bool>(3)?.unwrap_or(false);
            let problem = if no_fkey && matches!(state.as_str(), "enabled" | "always") {
                "its FOREIGN KEY to gdpr.consent is missing".to_string()
            } else {
                format!("its consent trigger is {state}")
            };
            out.push(Finding {
                kind: "consent".into(),
                severity: "error",
                object: object.clone(),
                message: format!(
                    "{object} requires consent but {problem}: run gdpr.require_consent again"
                ),
            });
        }
        Ok::<_, GdprError>(())
    })
}

/// Problems that make erasures slow or fail: unindexed references, plans that cannot be built.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
fn lint() -> TableIterator<
    'static,
    (
        name!(kind, String),
        name!(severity, String),
        name!(object, String),
        name!(message, String),
    ),
> {
    let findings = lint_all().or_report();
    TableIterator::new(
        findings
            .into_iter()
            .map(|f| (f.kind, f.severity.to_string(), f.object, f.message)),
    )
}

/// Whether the planner can answer `<expr> = <constant>` on `table` from an index (asked with sequential scans
/// disabled, so any usable index shows), planned as the table's owner.
fn has_index_for(table: &crate::catalog::introspect::Table, expr: &str) -> Result<bool> {
    let plan = crate::privilege::as_table_owner(table, "planning a search of", || {
        Spi::connect_mut(|client| {
            client.update("SET LOCAL enable_seqscan = off", None, &[])?;
            let plan = client
                .select(
                    &format!(
                        "EXPLAIN (FORMAT JSON) SELECT 1 FROM {} AS t WHERE {expr} = 'x'",
                        table.sql_name
                    ),
                    None,
                    &[],
                )?
                .first()
                .get::<pgrx::Json>(1)?
                .map(|j| j.0.to_string())
                .unwrap_or_default();
            Ok::<_, GdprError>(plan)
        })
    })?;
    // An index scan is not enough: a full scan of another index with the normal form as a Filter is one too.
    // The normal form must be the index condition.
    let plan: serde_json::Value = serde_json::from_str(&plan)?;
    Ok(has_index_cond_on(&plan, expr_function(expr)))
}

/// `gdpr.normalize_email` of `gdpr.normalize_email(t.email::text)`: how EXPLAIN shows the normal form.
fn expr_function(expr: &str) -> &str {
    expr.split('(').next().unwrap_or(expr)
}

/// Whether some node of an EXPLAIN (FORMAT JSON) plan has an index condition on `function`.
fn has_index_cond_on(node: &serde_json::Value, function: &str) -> bool {
    match node {
        serde_json::Value::Object(map) => map.iter().any(|(key, value)| {
            (key == "Index Cond" && value.as_str().is_some_and(|c| c.contains(function)))
                || has_index_cond_on(value, function)
        }),
        serde_json::Value::Array(items) => items.iter().any(|v| has_index_cond_on(v, function)),
        _ => false,
    }
}

/// Searches by e-mail, phone, name and identifier (gdpr.find_subjects) that would read a whole table: the
/// expression index that makes each an index scan.
fn lint_find(plan: &ErasurePlan, out: &mut Vec<Finding>) -> Result<()> {
    let cc = crate::normalize::phone_country_code()?;
    let categories = ["email", "phone", "name", "identifier"];
    for t in &plan.tables {
        let qualified = crate::request::find::search_expressions(t, &categories, "t");
        let bare = crate::request::find::search_expressions(t, &categories, "");
        for ((category, label, expr), (_, _, bare_expr)) in qualified.into_iter().zip(bare) {
            let normal = crate::request::find::normal_form(category, &expr, &cc);
            if has_index_for(&t.table, &normal)? {
                continue;
            }
            let indexed = crate::request::find::normal_form(category, &bare_expr, &cc);
            out.push(Finding {
                kind: plan.kind.clone(),
                severity: "info",
                object: format!("{}({label})", t.table.display),
                message: format!(
                    "finding a {} by {category} reads all of {}: CREATE INDEX ON {} (({indexed}))",
                    plan.kind, t.table.display, t.table.sql_name
                ),
            });
        }
    }
    Ok(())
}

/// Policies of category `other` on columns whose name says what they hold: with the category option they
/// are found, exported and searched for as what they are.
fn lint_categories(out: &mut Vec<Finding>) -> Result<()> {
    Spi::connect(|client| {
        for r in client.select(
            "SELECT tbl::regclass::text, col::text, strategy FROM gdpr.pii_policy
              WHERE category = 'other' AND strategy <> 'keep' ORDER BY 1, 2",
            None,
            &[],
        )? {
            let (Some(table), Some(col), Some(strategy)) = (
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?,
            ) else {
                continue;
            };
            if let Some(category) = crate::strategy::category::suggested_by_name(&col) {
                out.push(Finding {
                    kind: "category".into(),
                    severity: "info",
                    object: format!("{table}.{col}"),
                    message: format!(
                        "the policy {strategy} has category other, but the column looks like {category}: declare it \
                         with '{{\"category\": \"{category}\"}}' to have it found, exported and located as such"
                    ),
                });
            }
        }
        Ok::<_, GdprError>(())
    })
}
