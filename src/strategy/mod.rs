//! The fixed vocabulary of pseudonymization strategies.
//!
//! Each strategy lives in its own small file and implements [`Strategy`]: which options it takes, which
//! columns it fits (checked when a migration declares it), and the SQL expression an erasure writes for the
//! column. Expressions only ever reference the quoted column, `$n` parameters and this extension's own
//! functions: nothing a table owner writes is executed as SQL.

use pgrx::datum::DatumWithOid;
use serde_json::{Map, Value};

use crate::catalog::introspect::{self, Column, Table};
use crate::error::{GdprError, Result};

mod automata;
pub mod category;
pub mod conditional;
mod constant;
mod fake_email;
mod fake_phone;
pub(crate) mod fakes;
mod generalize;
mod hash;
pub(crate) mod jsonb;
mod keep;
mod mask;
mod null;
pub mod pseudonym;
pub(crate) mod scrub;
pub mod trace_matcher;

pub type Options = Map<String, Value>;

pub trait Strategy: Sync {
    /// The name used in `gdpr.declare_pii(..., strategy => name)`.
    fn name(&self) -> &'static str;

    /// Option keys this strategy accepts; any other key is an error.
    fn option_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Checks that the strategy and its options fit the column. `table` is for error messages.
    fn validate(&self, table: &str, col: &Column, options: &Options) -> Result<()>;

    /// The SQL expression that replaces the column's value during an erasure, or `None` to leave it.
    fn erase_expr(&self, col: &Column, options: &Options, sql: &mut ExprParams) -> Option<String>;
}

static STRATEGIES: &[&dyn Strategy] = &[
    &null::Null,
    &constant::Constant,
    &hash::Hash,
    &fake_email::FakeEmail,
    &fakes::FakeText("fake_name"),
    &fakes::FakeText("fake_first_name"),
    &fakes::FakeText("fake_last_name"),
    &fakes::FakeText("fake_city"),
    &fakes::FakeText("fake_company"),
    &fakes::FakeText("fake_address"),
    &fake_phone::FakePhone,
    &generalize::Generalize,
    &scrub::Scrub,
    &jsonb::Jsonb,
    &mask::Mask,
    &keep::Keep,
];

pub fn lookup(name: &str) -> Result<&'static dyn Strategy> {
    STRATEGIES
        .iter()
        .copied()
        .find(|s| s.name() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = STRATEGIES.iter().map(|s| s.name()).collect();
            GdprError::InvalidParameter(format!(
                "unknown strategy \"{name}\" (known: {})",
                known.join(", ")
            ))
        })
}

/// Full validation of a declared policy: vocabulary, option names, then the strategy's own checks — for the
/// strategy and, in a per-row policy, its row condition and the `else` strategy (see conditional.rs).
pub fn validate(table: &Table, col: &Column, strategy: &str, options: &Options) -> Result<()> {
    let (own, rule) = conditional::split(table, col, options, conditional::Values::Check)?;
    validate_one(&table.display, col, strategy, &own)?;
    if let Some((other, other_options)) = rule.and_then(|r| r.otherwise) {
        validate_one(&table.display, col, &other, &other_options)?;
    }
    Ok(())
}

fn validate_one(table: &str, col: &Column, strategy: &str, options: &Options) -> Result<()> {
    let s = lookup(strategy)?;
    category::of_policy(table, col, strategy, options)?;
    if let Some(unknown) = options
        .keys()
        .find(|k| *k != category::OPTION && !s.option_keys().contains(&k.as_str()))
    {
        return Err(GdprError::InvalidParameter(format!(
            "strategy \"{strategy}\" for {table}.{} does not take option \"{unknown}\" (accepted: {})",
            col.name,
            s.option_keys().iter().chain([&category::OPTION]).copied().collect::<Vec<_>>().join(", ")
        )));
    }
    s.validate(table, col, options)
}

/// A parameter of an erase expression, after the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A value fixed when the plan is built (a constant, an option), passed as `text`.
    Text(String),
    /// `bigint`: the token under which the erased subjects' identifiers (values of their declared PII columns
    /// before the erasure, with the placeholder kind of each) are registered for this erasure's statements
    /// (`scrub::register`); 0 when there are none (pseudonymizing whole tables).
    SubjectIdentifiers,
}

/// The erased subject's identifiers for `scrub`, with the placeholder kind of each.
#[derive(Default, Debug)]
pub struct SubjectIdentifiers {
    pub values: Vec<String>,
    pub kinds: Vec<String>,
}

/// The key and then every parameter of a `SetList`, as datums.
pub fn param_datums<'a>(
    key: &'a [u8],
    params: &'a [Param],
    identifiers_token: i64,
) -> Vec<DatumWithOid<'a>> {
    let mut out: Vec<DatumWithOid<'a>> = vec![key.into()];
    out.extend(params.iter().map(|p| match p {
        Param::Text(t) => DatumWithOid::from(t.as_str()),
        Param::SubjectIdentifiers => DatumWithOid::from(identifiers_token),
    }));
    out
}

/// The placeholder kind of a subject's value for `scrub`: the policy's category where it is a kind of
/// identifier, else from the column's strategy or, failing that, its name.
pub fn identifier_kind_of_policy(strategy: &str, column: &str, options: &Options) -> &'static str {
    match options.get(category::OPTION).and_then(|v| v.as_str()) {
        Some("email") => "email",
        Some("phone") => "phone",
        Some("name") => "name",
        Some("address") => "address",
        Some("identifier") => "identifier",
        _ => identifier_kind(strategy, column),
    }
}

/// The placeholder kind of a subject's value for `scrub`, from the column's strategy or, failing that, its name.
pub fn identifier_kind(strategy: &str, column: &str) -> &'static str {
    match strategy {
        "fake_email" => return "email",
        "fake_phone" => return "phone",
        "fake_name" | "fake_first_name" | "fake_last_name" => return "name",
        "fake_address" | "fake_city" => return "address",
        "fake_company" => return "company",
        _ => {}
    }
    let column = column.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| column.contains(w));
    if has(&["mail"]) {
        "email"
    } else if has(&["phone", "tel", "mobil"]) {
        "phone"
    } else if has(&["name", "jmeno", "prijmeni", "nazwisko", "imie"]) {
        "name"
    } else if has(&["addr", "street", "city", "ulice", "adres", "mesto"]) {
        "address"
    } else {
        "redacted"
    }
}

/// Collects the `$n` parameters an erase expression needs. Parameter numbering starts after the row-identity
/// parameters of the statement; the key (one-time or the database's) is always the first one.
pub struct ExprParams {
    first: usize,
    pub values: Vec<Param>,
}

impl ExprParams {
    pub fn new(first: usize) -> Self {
        ExprParams {
            first,
            values: Vec::new(),
        }
    }

    /// The parameter holding the key (`bytea`).
    pub fn key(&self) -> String {
        format!("${}", self.first)
    }

    fn placeholder(&mut self, param: Param, reuse: bool) -> String {
        let existing = reuse
            .then(|| self.values.iter().position(|p| *p == param))
            .flatten();
        let index = existing.unwrap_or_else(|| {
            self.values.push(param);
            self.values.len() - 1
        });
        format!("${}", self.first + 1 + index)
    }

    /// Adds a text parameter and returns its placeholder.
    pub fn text(&mut self, value: impl Into<String>) -> String {
        self.placeholder(Param::Text(value.into()), false)
    }

    /// The token of the subjects' identifiers (one `bigint` parameter, shared by all expressions).
    pub fn subject_identifiers(&mut self) -> String {
        self.placeholder(Param::SubjectIdentifiers, true)
    }
}

/// A table's declared policies as one `SET` list.
pub struct SetList {
    /// `"col" = <expr>` for every column a policy changes.
    pub assignments: Vec<String>,
    /// Names of the changed columns.
    pub columns: Vec<String>,
    /// Parameters of the expressions (after the key parameter).
    pub params: Vec<Param>,
}

/// Builds the `SET` list for `policies` (column, strategy, options) of `table`; the expressions' parameters
/// start at `$first` with the key, then the values in `SetList::params`.
pub fn set_list(
    table: &Table,
    policies: &[(String, String, Options)],
    first: usize,
) -> Result<SetList> {
    let mut params = ExprParams::new(first);
    let mut assignments = Vec::new();
    let mut columns = Vec::new();
    for (col_name, strategy_name, options) in policies {
        let col = introspect::column(table, col_name).map_err(|_| {
            GdprError::UndefinedColumn(format!(
                "column \"{col_name}\" of {} has a declared policy but no longer exists (gdpr.undeclare_pii)",
                table.display
            ))
        })?;
        // Values were checked (as the table's owner) when declared and by `check_policies_fit`.
        let (own, rule) = conditional::split(table, &col, options, conditional::Values::Trust)?;
        let mut expr = branch_expr(table, &col, strategy_name, &own, &mut params)?;
        if let Some(rule) = rule {
            let otherwise = match &rule.otherwise {
                Some((other, other_options)) => {
                    branch_expr(table, &col, other, other_options, &mut params)?
                }
                None => None,
            };
            if expr.is_some() || otherwise.is_some() {
                let c = &rule.column;
                let condition: Vec<String> = rule
                    .values
                    .iter()
                    .map(|v| {
                        let p = params.text(v.clone());
                        format!(
                            "{} {} CAST({p} AS {})",
                            c.sql_name, c.equals, c.compare_type
                        )
                    })
                    .collect();
                expr = Some(format!(
                    "CASE WHEN {} THEN {} ELSE {} END",
                    condition.join(" OR "),
                    expr.as_deref().unwrap_or(&col.sql_name),
                    otherwise.as_deref().unwrap_or(&col.sql_name)
                ));
            }
        }
        if let Some(expr) = expr {
            assignments.push(format!("{} = {expr}", col.sql_name));
            columns.push(col.name.clone());
        }
    }
    Ok(SetList {
        assignments,
        columns,
        params: params.values,
    })
}

/// The expression of one strategy for `col`, or `None` for `keep`.
fn branch_expr(
    table: &Table,
    col: &Column,
    strategy_name: &str,
    options: &Options,
    params: &mut ExprParams,
) -> Result<Option<String>> {
    match lookup(strategy_name)?.erase_expr(col, options, params) {
        // An empty text stays empty (and NULL stays NULL): a fake must not invent an address the person never
        // gave. Only `constant` writes its value whatever was there.
        Some(expr) if col.category == "S" && strategy_name != "constant" => Ok(Some(format!(
            "CASE WHEN {c} IS NULL OR {c} OPERATOR(pg_catalog.=) '' THEN {c} ELSE {expr} END",
            c = col.sql_name
        ))),
        Some(expr) => Ok(Some(expr)),
        None if strategy_name == "keep" => Ok(None),
        // Never a silent skip: a policy that yields nothing for its column is an error naming it.
        None => Err(GdprError::DatatypeMismatch(format!(
            "the policy {strategy_name} on {}.{} does not fit the column ({}): declare it again",
            table.display, col.name, col.type_display
        ))),
    }
}

/// Whether a policy (or, in a per-row policy, its `else`) scrubs: the erasure must collect identifiers.
pub fn scrubs(strategy: &str, options: &Options) -> bool {
    strategy == "scrub" || conditional::else_strategy(options) == Some("scrub")
}

// --- shared checks ---------------------------------------------------------------------------------------

pub(crate) fn require_text(strategy: &str, table: &str, col: &Column) -> Result<()> {
    if col.category != "S" {
        return Err(GdprError::DatatypeMismatch(format!(
            "strategy \"{strategy}\" needs a text column, but {table}.{} is {}",
            col.name, col.type_display
        )));
    }
    Ok(())
}

pub(crate) fn require_min_len(strategy: &str, table: &str, col: &Column, min: i32) -> Result<()> {
    match col.max_len {
        Some(n) if n < min => Err(GdprError::DatatypeMismatch(format!(
            "strategy \"{strategy}\" needs room for {min} characters, but {table}.{} is {}",
            col.name, col.type_display
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn refuse_unique(strategy: &str, table: &str, col: &Column) -> Result<()> {
    if col.unique {
        return Err(GdprError::InvalidParameter(format!(
            "strategy \"{strategy}\" gives many rows the same value, but {table}.{} is under a unique constraint \
             (use hash or a fake_* strategy)",
            col.name
        )));
    }
    Ok(())
}

pub(crate) fn int_option(
    strategy: &str,
    options: &Options,
    key: &str,
    default: i64,
) -> Result<i64> {
    match options.get(key) {
        None => Ok(default),
        Some(v) => v.as_i64().filter(|n| *n >= 0).ok_or_else(|| {
            GdprError::InvalidParameter(format!("option \"{key}\" of strategy \"{strategy}\" must be a non-negative integer, got {v}"))
        }),
    }
}

/// The column's declared length as an SQL integer literal argument (`NULL` when unbounded).
pub(crate) fn max_len_arg(col: &Column) -> String {
    col.max_len
        .map_or_else(|| "NULL".to_string(), |n| n.to_string())
}
