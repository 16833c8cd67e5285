//! `gdpr.find_subjects`: the subjects whose declared e-mail, phone, name or identifier columns — in the subject
//! table and in every table its erasure reaches — hold what a person gave, compared in normal form
//! (`gdpr.normalize_*`, which expression indexes can serve).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::cache;
use crate::error::{GdprError, Result};
use crate::normalize;
use crate::privilege::{require_privileges, Privilege};
use crate::subject::plan::{ErasurePlan, Identity, PlanTable, TEXT};
use crate::subject::reach::{fetch, owners, subject_label, Row};

/// What a person gave, as the function's arguments (NULL: not given).
pub struct Given<'a> {
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub name: Option<&'a str>,
    pub identifier: Option<&'a str>,
}

/// The categories a person can be found by, in the order of the parameters of every search statement.
const SEARCHED: [&str; 4] = ["email", "phone", "name", "identifier"];

/// One criterion in normal form, with the category of the columns it is compared with.
struct Criterion {
    category: &'static str,
    normalized: String,
}

/// The parameter number of a category in the search statements (`$1` e-mail … `$4` identifier), fixed so that
/// a statement's text always goes with the same parameter list.
fn parameter(category: &str) -> usize {
    SEARCHED.iter().position(|c| *c == category).unwrap_or(0) + 1
}

/// The SQL normal form of a column expression for a category (the same expression `gdpr.lint()` suggests
/// indexing). `cc` is the phone country code, inlined as a literal so that an index on the expression matches.
pub fn normal_form(category: &str, expr: &str, cc: &str) -> String {
    match category {
        "email" => format!("gdpr.normalize_email({expr})"),
        "phone" => format!("gdpr.normalize_phone({expr}, '{cc}')"),
        "name" => format!("gdpr.normalize_name({expr})"),
        _ => format!("gdpr.normalize_identifier({expr})"),
    }
}

/// The searched expression of each category in one table: a column per e-mail, phone and identifier column;
/// one expression over all name columns together (a first and a last name are one person's name). Columns are
/// qualified with `alias` (`t`), or bare when it is empty (an index definition).
pub fn search_expressions(
    table: &PlanTable,
    categories: &[&str],
    alias: &str,
) -> Vec<(&'static str, String, String)> {
    let qualified = |c: &crate::subject::plan::Categorized| {
        if alias.is_empty() {
            c.column.sql_name.clone()
        } else {
            format!("{alias}.{}", c.column.sql_name)
        }
    };
    let mut out = Vec::new();
    let text = |c: &&crate::subject::plan::Categorized| c.column.category == "S";
    for category in categories {
        let cols: Vec<_> = table
            .categories
            .iter()
            .filter(|c| c.category == *category)
            .filter(text)
            .collect();
        if cols.is_empty() {
            continue;
        }
        let category = cols[0].category;
        if category == "name" && cols.len() > 1 {
            let parts: Vec<String> = cols
                .iter()
                .map(|c| format!("coalesce({}::text, '')", qualified(c)))
                .collect();
            let names: Vec<&str> = cols.iter().map(|c| c.column.name.as_str()).collect();
            out.push((category, names.join("+"), parts.join(" || ' ' || ")));
        } else {
            for c in cols {
                out.push((
                    category,
                    c.column.name.clone(),
                    format!("{}::text", qualified(c)),
                ));
            }
        }
    }
    out
}

/// A normal form, given the phone country code.
type Normalizer = fn(&str, &str) -> Option<String>;

/// Per subject: the criteria it matched, and where (category, table, column).
type Matched = (HashSet<usize>, BTreeSet<(String, String, String)>);

fn criteria(function: &str, given: &Given<'_>, cc: &str) -> Result<Vec<Criterion>> {
    let mut out = Vec::new();
    let fields: [(&'static str, Option<&str>, Normalizer); 4] = [
        ("email", given.email, |v, _| normalize::email(v)),
        ("phone", given.phone, normalize::phone),
        ("name", given.name, |v, _| normalize::name(v)),
        ("identifier", given.identifier, |v, _| {
            normalize::identifier(v)
        }),
    ];
    for (category, value, normal) in fields {
        let Some(value) = value else { continue };
        let normalized = normal(value, cc).ok_or_else(|| {
            GdprError::InvalidParameter(format!(
                "{function}: {category} \"{value}\" has nothing to compare (empty, or a phone without digits)"
            ))
        })?;
        out.push(Criterion {
            category,
            normalized,
        });
    }
    if out.is_empty() {
        return Err(GdprError::InvalidParameter(format!(
            "{function}: give at least one of email, phone, name, identifier"
        )));
    }
    Ok(out)
}

/// A table to search: the statement, and per result flag the criterion and column it stands for.
struct Search {
    table: usize,
    sql: String,
    /// (criterion index, column label) per flag column after the fetched row.
    flags: Vec<(usize, String)>,
}

fn searches(plan: &ErasurePlan, criteria: &[Criterion], cc: &str) -> Vec<Search> {
    let categories: Vec<&str> = criteria.iter().map(|c| c.category).collect();
    let mut out = Vec::new();
    for (i, t) in plan.tables.iter().enumerate() {
        let exprs = search_expressions(t, &categories, "t");
        if exprs.is_empty() {
            continue;
        }
        let mut conditions = Vec::new();
        let mut flags = Vec::new();
        for (category, label, expr) in exprs {
            let criterion = criteria
                .iter()
                .position(|c| c.category == category)
                .unwrap_or(0);
            conditions.push(format!(
                "{} = ${}",
                normal_form(category, &expr, cc),
                parameter(category)
            ));
            flags.push((criterion, label));
        }
        // The fetched-row layout with only the identity filled in, then one flag per searched expression.
        let flag_columns: Vec<String> = conditions.iter().map(|c| format!("({c})::text")).collect();
        out.push(Search {
            table: i,
            sql: t.select_identity(&conditions.join(" OR "), &flag_columns),
            flags,
        });
    }
    out
}

/// The tables a search reads: the searched ones and every table above them on the way to the subject.
fn tables_read(plan: &ErasurePlan, searches: &[Search]) -> BTreeSet<usize> {
    let mut read: BTreeSet<usize> = searches.iter().map(|s| s.table).collect();
    let mut queue: Vec<usize> = read.iter().copied().collect();
    while let Some(t) = queue.pop() {
        for e in plan.edges.iter().filter(|e| e.child == t && e.child != 0) {
            if read.insert(e.parent) {
                queue.push(e.parent);
            }
        }
    }
    read
}

fn subject_key(plan: &ErasurePlan, row: &Row) -> String {
    match &plan.tables[0].identity {
        Identity::Key(idx) => subject_label(
            &idx.iter()
                .map(|i| row[i + 2].clone().unwrap_or_default())
                .collect::<Vec<_>>(),
        ),
        Identity::Ctid => String::new(),
    }
}

/// Candidates for what a person gave: (subject id, score = criteria matched, where they matched), best first.
pub fn find(kind: &str, given: &Given<'_>) -> Result<Vec<(String, i32, Value)>> {
    crate::privilege::require_primary(&format!("finding {kind} subjects"))?;
    let function = format!("find_subjects({kind})");
    let cc = crate::normalize::phone_country_code()?;
    let criteria = criteria(&function, given, &cc)?;
    let plan = cache::plan_for(kind)?;
    let searches = searches(&plan, &criteria, &cc);
    let what = format!("finding a {kind}");
    for t in tables_read(&plan, &searches) {
        require_privileges(&plan.tables[t].table, &[Privilege::Select], &what)?;
    }
    let types = vec![TEXT; SEARCHED.len()];
    let values: Vec<Option<&str>> = SEARCHED
        .iter()
        .map(|category| {
            criteria
                .iter()
                .find(|c| c.category == *category)
                .map(|c| c.normalized.as_str())
        })
        .collect();
    // Per subject: the criteria it matched and where.
    let mut found: BTreeMap<String, Matched> = BTreeMap::new();
    Spi::connect_mut(|client| {
        for search in &searches {
            let args: Vec<DatumWithOid<'_>> = values.iter().map(|v| (*v).into()).collect();
            let table = &plan.tables[search.table];
            let width = 2 + table.fetched.len();
            // Rows grouped by what they matched: each group leads to its subjects in one upward walk.
            let mut groups: BTreeMap<Vec<usize>, Vec<Row>> = BTreeMap::new();
            for mut row in fetch(client, &table.table, &search.sql, &types, &args)? {
                let matched: Vec<usize> = row[width..]
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.as_deref() == Some("true"))
                    .map(|(i, _)| i)
                    .collect();
                row.truncate(width);
                groups.entry(matched).or_default().push(row);
            }
            for (matched, rows) in groups {
                let subjects = if search.table == 0 {
                    rows
                } else {
                    owners(client, &plan, search.table, rows)?
                };
                for subject in subjects {
                    let entry = found.entry(subject_key(&plan, &subject)).or_default();
                    for flag in &matched {
                        let (criterion, column) = &search.flags[*flag];
                        entry.0.insert(*criterion);
                        entry.1.insert((
                            criteria[*criterion].category.to_string(),
                            table.table.display.clone(),
                            column.clone(),
                        ));
                    }
                }
            }
        }
        Ok::<_, GdprError>(())
    })?;
    let mut out: Vec<(String, i32, Value)> = found
        .into_iter()
        .map(|(id, (criteria, matches))| {
            let matches: Vec<Value> = matches
                .into_iter()
                .map(|(category, table, column)| json!({"category": category, "table": table, "column": column}))
                .collect();
            (id, criteria.len() as i32, Value::Array(matches))
        })
        .collect();
    out.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then(a.0.len().cmp(&b.0.len()))
            .then(a.0.cmp(&b.0))
    });
    Ok(out)
}
