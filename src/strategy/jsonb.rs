//! `jsonb`: a strategy per key inside a jsonb column, e.g.
//! `{"keys": {"email": "fake_email", "ip": "generalize", "browser": "keep",
//!            "address.street": {"strategy": "mask", "keep_first": 3}}, "default": "null"}`.
//!
//! A key is matched by its dotted path from the top (`address.street`) or, failing that, by its name at any
//! depth (`email`). The strategy applies to every string (and number, for `generalize`/`constant`) under
//! that key, through arrays and nested objects; values under no listed key get `default` (`null` when
//! omitted: unknown keys of a column declared personal are removed, not kept).
//!
//! Values are walked without recursion, at any depth: a jsonb datum with PostgreSQL's own iterator
//! ([`walk`]), a json or jsonb text with an event parser ([`string_leaves`]). Both follow the rules with one
//! [`Scope`].

mod scope;
mod walk;

use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;

use json_event_parser::{JsonEvent, LowLevelJsonParser};
use serde_json::Value;

use super::scrub::Steps;
use super::{
    fake_email, fake_phone, fakes, hash, int_option, mask, scrub, ExprParams, Options, Strategy,
};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, Result};
use scope::Scope;

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
        let identifiers = sql.subject_identifiers();
        Some(format!(
            "gdpr._erase_jsonb({}, {}, {}, {identifiers})",
            col.sql_name,
            sql.key(),
            sql.text(spec)
        ))
    }
}

struct Context<'a> {
    key: &'a [u8],
    /// The token of the erased subjects' identifiers (`scrub::register`; 0: none).
    identifiers: i64,
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

/// A leaf of the value (`null` leaves stay as they are).
enum Leaf<'a> {
    String(&'a str),
    /// A number, in its text form.
    Number(&'a str),
    Bool,
}

/// What replaces a leaf.
enum Replacement {
    Keep,
    Null,
    String(String),
    /// A number or a `constant` (which may be any JSON value).
    Json(Value),
}

/// Applies one rule to a leaf.
fn apply(rule: &Rule, leaf: Leaf<'_>, ctx: &Context<'_>) -> Result<Replacement> {
    let o = &rule.options;
    Ok(match (rule.strategy.as_str(), leaf) {
        ("keep", _) => Replacement::Keep,
        ("null", _) => Replacement::Null,
        ("constant", _) => Replacement::Json(o.get("value").cloned().unwrap_or(Value::Null)),
        ("generalize", Leaf::Number(n)) => {
            let bucket = int(o, "bucket", 10).max(1);
            Replacement::Json(match n.parse::<i64>() {
                Ok(i) => serde_json::json!(i.div_euclid(bucket) * bucket),
                Err(_) => n.parse::<f64>().map_or(Value::Null, |x| {
                    serde_json::json!((x / bucket as f64).floor() * bucket as f64)
                }),
            })
        }
        ("generalize", Leaf::String(s)) => match s.parse::<IpAddr>() {
            Ok(ip) => Replacement::String(generalize_ip(
                ip,
                int(o, "ipv4_prefix", 24) as u32,
                int(o, "ipv6_prefix", 48) as u32,
            )),
            Err(_) => Replacement::Null,
        },
        (strategy, Leaf::String(s)) => Replacement::String(match strategy {
            "hash" => hash::keyed_hash(s, ctx.key, None),
            "fake_email" => fake_email::fake_email(s, ctx.key, None),
            "fake_phone" => fake_phone::fake_phone(s, ctx.key, false, None),
            "mask" => mask::mask(
                s,
                int(o, "keep_first", 1) as usize,
                int(o, "keep_last", 0) as usize,
            ),
            "scrub" => scrub::scrub_registered(s, ctx.identifiers)?,
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
        (_, Leaf::Number(_) | Leaf::Bool) => Replacement::Null,
    })
}

/// The string leaves of a json or jsonb value given as text — those its jsonb policy does not `keep`, when
/// `rules` are given — each with the nearest object key above it: the personal values `scrub` must look for
/// elsewhere. Any depth; an error (naming what failed) for text that is not JSON.
pub fn string_leaves(
    json_text: &str,
    rules: Option<&Options>,
) -> Result<Vec<(String, Option<String>)>> {
    let spec = match rules {
        Some(options) => parse(options)?,
        None => Spec {
            rules: Vec::new(),
            default: Rule {
                strategy: "null".into(),
                options: Options::new(),
            },
        },
    };
    let mut scope = Scope::new(&spec);
    let mut out = Vec::new();
    // The default stack limit (65,536 levels) would reject values PostgreSQL stores.
    let mut parser = LowLevelJsonParser::new().with_max_stack_size(usize::MAX);
    let mut input = json_text.as_bytes();
    let mut steps = Steps::default();
    loop {
        steps.step();
        let result = parser.parse_next(input, true);
        input = &input[result.consumed_bytes..];
        let Some(event) = result.event else {
            continue;
        };
        match event.map_err(|e| {
            GdprError::InvalidTextRepresentation(format!(
                "cannot read a json value for its strings: {e}"
            ))
        })? {
            JsonEvent::StartObject => scope.begin(true),
            JsonEvent::StartArray => scope.begin(false),
            JsonEvent::EndObject | JsonEvent::EndArray => scope.end(),
            JsonEvent::ObjectKey(k) => scope.key(&k),
            JsonEvent::String(s) => {
                if scope.leaf_rule().strategy != "keep" {
                    out.push((s.into_owned(), scope.nearest_key().map(str::to_string)));
                }
            }
            JsonEvent::Number(_) | JsonEvent::Boolean(_) | JsonEvent::Null => {}
            JsonEvent::Eof => break,
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn leaves(text: &str, rules: Option<Value>) -> Vec<(String, Option<String>)> {
        string_leaves(text, rules.as_ref().and_then(Value::as_object)).expect("valid json")
    }

    #[test]
    fn string_leaves_skip_kept_keys() {
        let rules = json!({"keys": {"browser": "keep", "email": "fake_email"}, "default": "keep"});
        assert_eq!(
            leaves(
                r#"{"browser": "Firefox", "email": "a@b.cz", "x": "y"}"#,
                Some(rules)
            ),
            vec![("a@b.cz".to_string(), Some("email".to_string()))]
        );
    }

    #[test]
    fn string_leaves_nearest_key_and_paths() {
        let text = r#"{"a": ["x", {"b": "y", "c": [["z"]]}], "d": {"e": {"f": "w"}}, "top\"q": "\u00e9\n"}"#;
        assert_eq!(
            leaves(text, None),
            vec![
                ("x".to_string(), Some("a".to_string())),
                ("y".to_string(), Some("b".to_string())),
                ("z".to_string(), Some("c".to_string())),
                ("w".to_string(), Some("f".to_string())),
                ("é\n".to_string(), Some("top\"q".to_string())),
            ]
        );
        // by dotted path, by name, inherited; the default for the rest
        let rules = json!({"keys": {"d.e": "keep", "b": "keep", "a": "mask"}, "default": "keep"});
        assert_eq!(
            leaves(text, Some(rules)),
            vec![
                ("x".to_string(), Some("a".to_string())),
                ("z".to_string(), Some("c".to_string())),
            ]
        );
        assert_eq!(
            leaves(r#""alone""#, None),
            vec![("alone".to_string(), None)]
        );
        assert!(string_leaves("{\"a\": ", None).is_err());
    }

    #[test]
    fn string_leaves_at_any_depth() {
        for depth in [10_000usize, 100_000, 1_000_000] {
            let text = format!(
                "{}\"deep\"{}",
                "{\"k\": [".repeat(depth),
                "]}".repeat(depth)
            );
            assert_eq!(
                leaves(&text, None),
                vec![("deep".to_string(), Some("k".to_string()))]
            );
            let rules = json!({"keys": {"k.k": "keep"}, "default": "keep"});
            assert!(leaves(&text, Some(rules)).is_empty());
        }
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
