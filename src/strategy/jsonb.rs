//! `jsonb`: a strategy per key inside a jsonb column, e.g.
//! `{"keys": {"email": "fake_email", "ip": "generalize", "browser": "keep",
//!            "address.street": {"strategy": "mask", "keep_first": 3}}, "default": "null"}`.
//!
//! A key is matched by its dotted path from the top (`address.street`) or, failing that, by its name at any
//! depth (`email`). The strategy applies to every string (and number, for `generalize`/`constant`) under
//! that key, through arrays and nested objects; values under no listed key get `default` (`null` when
//! omitted: unknown keys of a column declared personal are removed, not kept).

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{Map, Value};

use super::{
    fake_email, fake_phone, fakes, hash, int_option, mask, scrub, ExprParams, Options, Strategy,
};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, OrReport, Result};

pub struct Jsonb;

/// Strategies usable inside a jsonb value.
const INNER: [&str; 15] = [
    "null",
    "keep",
    "constant",
    "hash",
    "fake_email",
    "fake_name",
    "fake_first_name",
    "fake_last_name",
    "fake_city",
    "fake_company",
    "fake_address",
    "fake_phone",
    "mask",
    "generalize",
    "scrub",
];

/// One key's strategy with its options.
#[derive(Debug, Clone)]
struct Rule {
    strategy: String,
    options: Options,
}

#[derive(Debug)]
struct Spec {
    rules: Vec<(String, Rule)>,
    default: Rule,
}

fn rule(path: &str, v: &Value) -> Result<Rule> {
    let (strategy, options) = match v {
        Value::String(s) => (s.clone(), Options::new()),
        Value::Object(o) => {
            let mut options = o.clone();
            match options.remove("strategy") {
                Some(Value::String(s)) => (s, options),
                _ => {
                    return Err(GdprError::InvalidParameter(format!(
                        "jsonb rule for \"{path}\" needs a \"strategy\" name"
                    )))
                }
            }
        }
        other => {
            return Err(GdprError::InvalidParameter(format!(
                "jsonb rule for \"{path}\" must be a strategy name or an object, got {other}"
            )))
        }
    };
    if !INNER.contains(&strategy.as_str()) {
        return Err(GdprError::InvalidParameter(format!(
            "strategy \"{strategy}\" for jsonb key \"{path}\" is not usable inside jsonb (usable: {})",
            INNER.join(", ")
        )));
    }
    let allowed: &[&str] = match strategy.as_str() {
        "constant" => &["value"],
        "mask" => &["keep_first", "keep_last"],
        "generalize" => &["ipv4_prefix", "ipv6_prefix", "bucket"],
        s if s.starts_with("fake_") && s != "fake_email" && s != "fake_phone" => &["locale"],
        _ => &[],
    };
    if let Some(k) = options.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(GdprError::InvalidParameter(format!(
            "strategy \"{strategy}\" for jsonb key \"{path}\" does not take option \"{k}\""
        )));
    }
    for k in [
        "keep_first",
        "keep_last",
        "ipv4_prefix",
        "ipv6_prefix",
        "bucket",
    ] {
        int_option(&strategy, &options, k, 0)?;
    }
    if strategy.starts_with("fake_") && options.contains_key("locale") {
        fakes::locale_option(&strategy, &options)?;
    }
    if strategy == "constant" && !options.contains_key("value") {
        return Err(GdprError::InvalidParameter(format!(
            "strategy \"constant\" for jsonb key \"{path}\" needs option \"value\""
        )));
    }
    Ok(Rule { strategy, options })
}

fn parse(options: &Options) -> Result<Spec> {
    let mut rules = Vec::new();
    match options.get("keys") {
        Some(Value::Object(keys)) if !keys.is_empty() => {
            for (path, v) in keys {
                rules.push((path.clone(), rule(path, v)?));
            }
        }
        _ => {
            return Err(GdprError::InvalidParameter(
                "strategy \"jsonb\" needs option \"keys\": an object mapping keys or dotted paths to strategies".into(),
            ))
        }
    }
    let default = match options.get("default") {
        None => Rule {
            strategy: "null".into(),
            options: Options::new(),
        },
        Some(v) => rule("default", v)?,
    };
    Ok(Spec { rules, default })
}

impl Strategy for Jsonb {
    fn name(&self) -> &'static str {
        "jsonb"
    }
    fn option_keys(&self) -> &'static [&'static str] {
        &["keys", "default"]
    }
    fn validate(&self, table: &str, col: &Column, options: &Options) -> Result<()> {
        if col.type_sql != "jsonb" {
            return Err(GdprError::DatatypeMismatch(format!(
                "strategy \"jsonb\" needs a jsonb column, but {table}.{} is {}",
                col.name, col.type_sql
            )));
        }
        parse(options).map(|_| ())
    }
    fn erase_expr(&self, col: &Column, options: &Options, sql: &mut ExprParams) -> Option<String> {
        let spec = Value::Object(options.clone()).to_string();
        let (values, kinds) = sql.subject_identifiers();
        Some(format!(
            "gdpr._erase_jsonb({}, {}, {}, {values}, {kinds})",
            col.sql_name,
            sql.key(),
            sql.text(spec)
        ))
    }
}

struct Context<'a> {
    key: &'a [u8],
    values: &'a [Option<String>],
    kinds: &'a [Option<String>],
}

fn generalize_ip(ip: IpAddr, v4: u32, v6: u32) -> String {
    match ip {
        IpAddr::V4(a) => {
            let bits = v4.min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            format!("{}/{bits}", std::net::Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let bits = v6.min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            format!("{}/{bits}", std::net::Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

fn int(options: &Options, key: &str, default: i64) -> i64 {
    options.get(key).and_then(Value::as_i64).unwrap_or(default)
}

/// Applies one rule to a leaf value.
fn apply(rule: &Rule, v: &Value, ctx: &Context<'_>) -> Value {
    let o = &rule.options;
    match (rule.strategy.as_str(), v) {
        ("keep", _) => v.clone(),
        ("null", _) => Value::Null,
        ("constant", _) => o.get("value").cloned().unwrap_or(Value::Null),
        ("generalize", Value::Number(n)) => {
            let bucket = int(o, "bucket", 10).max(1);
            match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => serde_json::json!(i.div_euclid(bucket) * bucket),
                (None, Some(x)) => serde_json::json!((x / bucket as f64).floor() * bucket as f64),
                _ => Value::Null,
            }
        }
        ("generalize", Value::String(s)) => match s.parse::<IpAddr>() {
            Ok(ip) => Value::String(generalize_ip(
                ip,
                int(o, "ipv4_prefix", 24) as u32,
                int(o, "ipv6_prefix", 48) as u32,
            )),
            Err(_) => Value::Null,
        },
        (strategy, Value::String(s)) => Value::String(match strategy {
            "hash" => hash::keyed_hash(s, ctx.key, None),
            "fake_email" => fake_email::fake_email(s, ctx.key, None),
            "fake_phone" => fake_phone::fake_phone(s, ctx.key, false, None),
            "mask" => mask::mask(
                s,
                int(o, "keep_first", 1) as usize,
                int(o, "keep_last", 0) as usize,
            ),
            "scrub" => scrub::scrub(s, ctx.values, ctx.kinds).or_report(),
            fake => {
                let kind = fakes::KINDS
                    .iter()
                    .find(|(n, _)| *n == fake)
                    .map_or(fakes::Kind::Name, |(_, k)| *k);
                let locale = o.get("locale").and_then(Value::as_str).unwrap_or("en");
                fakes::fake(kind, s, ctx.key, locale, false, None)
            }
        }),
        // Numbers and booleans under a text strategy: the value itself may identify; drop it.
        (_, Value::Number(_) | Value::Bool(_)) => Value::Null,
        _ => v.clone(),
    }
}

/// The path of `key` under `path`, and the rule for it: by dotted path, else by key name, else inherited.
fn child_rule<'a>(
    spec: &'a Spec,
    path: &str,
    key: &str,
    inherited: Option<&'a Rule>,
) -> (String, Option<&'a Rule>) {
    let child_path = if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    };
    let by_path = spec.rules.iter().find(|(p, _)| *p == child_path);
    let by_name = spec
        .rules
        .iter()
        .find(|(p, _)| p == key && !p.contains('.'));
    let rule = by_path.or(by_name).map(|(_, r)| r).or(inherited);
    (child_path, rule)
}

fn walk(v: &Value, path: &str, inherited: Option<&Rule>, spec: &Spec, ctx: &Context<'_>) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, child) in map {
                let (child_path, rule) = child_rule(spec, path, k, inherited);
                out.insert(k.clone(), walk(child, &child_path, rule, spec, ctx));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| walk(i, path, inherited, spec, ctx))
                .collect(),
        ),
        Value::Null => Value::Null,
        leaf => apply(inherited.unwrap_or(&spec.default), leaf, ctx),
    }
}

/// The string leaves that a jsonb policy does not `keep`, with the key they sit under: the personal values
/// `scrub` must look for elsewhere.
pub fn personal_strings(value: &Value, options: &Options) -> Vec<(String, Option<String>)> {
    fn visit(
        v: &Value,
        path: &str,
        key: Option<&str>,
        rule: Option<&Rule>,
        spec: &Spec,
        out: &mut Vec<(String, Option<String>)>,
    ) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let (child_path, r) = child_rule(spec, path, k, rule);
                    visit(child, &child_path, Some(k), r, spec, out);
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|i| visit(i, path, key, rule, spec, out)),
            Value::String(s) if rule.unwrap_or(&spec.default).strategy != "keep" => {
                out.push((s.clone(), key.map(str::to_string)))
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(spec) = parse(options) {
        visit(value, "", None, None, &spec, &mut out);
    }
    out
}

thread_local! {
    /// The last parsed spec: one column's options are parsed once per statement, not once per row.
    static LAST_SPEC: RefCell<Option<(String, Rc<Spec>)>> = const { RefCell::new(None) };
}

fn spec_for(text: &str) -> Result<Rc<Spec>> {
    LAST_SPEC.with(|cell| {
        let mut cell = cell.borrow_mut();
        if let Some((t, s)) = cell.as_ref() {
            if t == text {
                return Ok(s.clone());
            }
        }
        let options = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            _ => Options::new(),
        };
        let spec = Rc::new(parse(&options)?);
        *cell = Some((text.to_string(), spec.clone()));
        Ok(spec)
    })
}

pub fn transform(
    value: &Value,
    options_text: &str,
    key: &[u8],
    values: &[Option<String>],
    kinds: &[Option<String>],
) -> Result<Value> {
    let spec = spec_for(options_text)?;
    Ok(walk(
        value,
        "",
        None,
        &spec,
        &Context { key, values, kinds },
    ))
}

/// Internal: the rules arrive as the text the plan stored, so they are parsed once per statement (`spec_for`),
/// not re-serialized for every row.
#[pg_extern(immutable, parallel_safe)]
fn _erase_jsonb(
    value: Option<JsonB>,
    key: &[u8],
    rules: &str,
    identifiers: Option<Vec<Option<String>>>,
    kinds: Option<Vec<Option<String>>>,
) -> Option<JsonB> {
    value.map(|v| {
        JsonB(
            transform(
                &v.0,
                rules,
                key,
                &identifiers.unwrap_or_default(),
                &kinds.unwrap_or_default(),
            )
            .or_report(),
        )
    })
}

/// `gdpr.pseudonymize_jsonb(value, rules)`: the `jsonb` strategy on its own, with the database key (rules as in
/// `declare_pii`). Not executable by PUBLIC: keyed.
#[pg_extern(name = "pseudonymize_jsonb", stable, strict, parallel_restricted)]
fn pseudonymize_jsonb(value: JsonB, rules: JsonB) -> JsonB {
    if !rules.0.is_object() {
        GdprError::InvalidParameter(format!("jsonb rules must be an object, got {}", rules.0))
            .report();
    }
    let key = crate::key::database_key_or_report();
    JsonB(transform(&value.0, &rules.0.to_string(), &key, &[], &[]).or_report())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_strings_skip_kept_keys() {
        let options =
            json!({"keys": {"browser": "keep", "email": "fake_email"}, "default": "keep"});
        let found = personal_strings(
            &json!({"browser": "Firefox", "email": "a@b.cz", "x": "y"}),
            options.as_object().unwrap(),
        );
        assert_eq!(
            found,
            vec![("a@b.cz".to_string(), Some("email".to_string()))]
        );
    }

    fn run(value: Value, spec: Value) -> Value {
        transform(&value, &spec.to_string(), b"k", &[], &[]).expect("valid spec")
    }

    #[test]
    fn per_key_strategies_default_and_paths() {
        let out = run(
            json!({"email": "jan@novak.cz", "ip": "192.168.17.42", "browser": "Firefox", "age": 37,
                   "address": {"street": "Vinohradská 12", "city": "Praha"},
                   "contacts": [{"email": "a@b.cz"}, {"email": "c@d.cz"}], "note": "call +420 601 234 567"}),
            json!({"keys": {"email": "fake_email", "ip": "generalize", "browser": "keep",
                            "address.street": {"strategy": "mask", "keep_first": 3}, "age": {"strategy": "generalize", "bucket": 10},
                            "note": "scrub"}}),
        );
        assert_eq!(out["ip"], "192.168.17.0/24");
        assert_eq!(out["browser"], "Firefox");
        assert_eq!(out["address"]["street"], "Vin***********");
        assert_eq!(out["address"]["city"], Value::Null); // default: null
        assert_eq!(out["age"], json!(30));
        assert_eq!(out["note"], "call [phone]");
        assert!(out["email"].as_str().unwrap().contains("@example."));
        let contacts = out["contacts"].as_array().unwrap();
        assert!(contacts
            .iter()
            .all(|c| c["email"].as_str().unwrap().contains("@example.")));
        assert_eq!(
            out,
            run(
                out.clone(),
                json!({"keys": {"x": "keep"}, "default": "keep"})
            )
        );
    }

    #[test]
    fn spec_errors() {
        assert!(parse(&json!({"keys": {}}).as_object().unwrap().clone()).is_err());
        assert!(parse(
            &json!({"keys": {"a": "md5(a)"}})
                .as_object()
                .unwrap()
                .clone()
        )
        .is_err());
        assert!(parse(
            &json!({"keys": {"a": {"strategy": "mask", "nope": 1}}})
                .as_object()
                .unwrap()
                .clone()
        )
        .is_err());
        assert!(parse(
            &json!({"keys": {"a": "constant"}})
                .as_object()
                .unwrap()
                .clone()
        )
        .is_err());
    }
}
