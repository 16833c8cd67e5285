//! The `jsonb` strategy on a jsonb datum: read with PostgreSQL's own iterator and rebuilt with
//! `pushJsonbValue`, as `jsonb_strip_nulls` does. No recursion in Rust and no text round-trip (pgrx's `JsonB`
//! goes through serde_json, which stops at 128 levels), so any depth PostgreSQL stores is walked. Rebuilding
//! (`JsonbValueToJsonb`) checks the stack depth as storing did; a value that still cannot be rebuilt is
//! replaced whole, never left in place.

use std::ffi::CString;
use std::ptr;

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::nullable::Nullable;
use pgrx::pg_sys::{self, jbvType, JsonbIteratorToken as Token};
use pgrx::prelude::*;
use pgrx::{direct_function_call, direct_function_call_as_datum, FromDatum, IntoDatum, JsonB};
use serde_json::Value;

use super::{apply, spec_for, Context, Leaf, Replacement, Scope, Steps};
use crate::error::{GdprError, OrReport, Result};

/// A detoasted jsonb argument or result, handed to and from PostgreSQL as it is (SQL type `jsonb`).
pub struct JsonbDatum(*mut pg_sys::Jsonb);

impl FromDatum for JsonbDatum {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<JsonbDatum> {
        // SAFETY: the caller passes a non-null datum of type jsonb; detoasting gives a palloc'd (or the
        // original, already plain) varlena with a 4-byte header, valid for the rest of the call.
        (!is_null)
            .then(|| unsafe { JsonbDatum(pg_sys::pg_detoast_datum(datum.cast_mut_ptr()).cast()) })
    }
}

impl IntoDatum for JsonbDatum {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(pg_sys::Datum::from(self.0))
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

// SAFETY: an argument declared `jsonb` (see `impl_sql_translatable!` below) is unboxed through `FromDatum`,
// exactly as pgrx does for its own `JsonB`.
unsafe impl<'fcx> ArgAbi<'fcx> for JsonbDatum {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        // SAFETY: forwarded from the caller (a non-null jsonb argument).
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        // SAFETY: forwarded from the caller (a jsonb argument, possibly null).
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

// SAFETY: the pointer is a complete jsonb varlena in the current memory context: a valid `jsonb` result.
unsafe impl BoxRet for JsonbDatum {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: see above.
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0)) }
    }
}

/// Apart, so that the macro's `Result` is the standard one, not `crate::error::Result`.
mod sql_type {
    pgrx::impl_sql_translatable!(super::JsonbDatum, "jsonb");
}

/// A jsonb value from its text (a `constant`, a generalized number, a replacement for a whole value).
fn jsonb_from_text(text: &str) -> *mut pg_sys::Jsonb {
    let text = CString::new(text).expect("JSON text escapes NUL characters");
    // SAFETY: jsonb_in takes a NUL-terminated C string and returns a palloc'd jsonb (or raises an error).
    unsafe {
        direct_function_call_as_datum(pg_sys::jsonb_in, &[Some(text.as_ptr().into())])
            .expect("jsonb_in returns a value")
            .cast_mut_ptr()
    }
}

/// A string leaf, copied into the current memory context.
fn string_value(s: &str) -> pg_sys::JsonbValue {
    // jsonb cannot store longer strings (JENTRY_OFFLENMASK); such a replacement is dropped instead.
    if s.len() > 0x0FFF_FFFF {
        return null_value();
    }
    // SAFETY: palloc returns at least `len` bytes (or raises an error); the bytes are copied in full. A zeroed
    // JsonbValue is a valid jbvNull whose string arm is then filled in.
    unsafe {
        let buf = pg_sys::palloc(s.len().max(1)).cast::<u8>();
        ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len());
        let mut v: pg_sys::JsonbValue = std::mem::zeroed();
        v.type_ = jbvType::jbvString;
        v.val.string.len = s.len() as i32;
        v.val.string.val = buf.cast();
        v
    }
}

fn null_value() -> pg_sys::JsonbValue {
    // SAFETY: an all-zero JsonbValue is `jbvNull` (type 0) with no payload.
    unsafe { std::mem::zeroed() }
}

/// The replacement as a value to push: a scalar, or a container in binary form (unpacked by `pushJsonbValue`).
fn replacement_value(original: &pg_sys::JsonbValue, r: Replacement) -> pg_sys::JsonbValue {
    match r {
        Replacement::Keep => *original,
        Replacement::Null | Replacement::Json(Value::Null) => null_value(),
        Replacement::String(s) | Replacement::Json(Value::String(s)) => string_value(&s),
        Replacement::Json(other) => {
            let jsonb = jsonb_from_text(&other.to_string());
            let mut v = null_value();
            // SAFETY: `jsonb` is a valid jsonb just built; JsonbToJsonbValue gives its scalar, or a jbvBinary
            // pointing into it (it lives in the current memory context until the result is built).
            unsafe { pg_sys::JsonbToJsonbValue(jsonb, &mut v) };
            v
        }
    }
}

/// The text of a string leaf or key (jsonb holds text in the database encoding, UTF-8 here).
///
/// # Safety
/// `v` must be a `jbvString` whose bytes are valid for the rest of the walk.
unsafe fn text_of(v: &pg_sys::JsonbValue) -> std::borrow::Cow<'_, str> {
    // SAFETY: per the contract, `val`/`len` describe the string's bytes.
    let bytes = unsafe {
        std::slice::from_raw_parts(v.val.string.val.cast::<u8>(), v.val.string.len as usize)
    };
    String::from_utf8_lossy(bytes)
}

/// The text form of a numeric leaf.
///
/// # Safety
/// `v` must be a `jbvNumeric`.
unsafe fn number_text(v: &pg_sys::JsonbValue) -> String {
    // SAFETY: numeric_out takes a numeric datum and returns a palloc'd C string.
    unsafe {
        direct_function_call::<&std::ffi::CStr>(
            pg_sys::numeric_out,
            &[Some(pg_sys::Datum::from(v.val.numeric))],
        )
    }
    .map(|c| c.to_string_lossy().into_owned())
    .unwrap_or_default()
}

/// Replaces one leaf in place by what its rule makes of it (`null` leaves stay).
///
/// # Safety
/// `v` must be a scalar JsonbValue whose strings point to memory valid for the rest of the walk.
unsafe fn replace_leaf(
    v: &mut pg_sys::JsonbValue,
    rule: &super::Rule,
    ctx: &Context<'_>,
) -> Result<()> {
    // SAFETY: per the contract, the type tag tells which arm of the value is set.
    let replacement = unsafe {
        match v.type_ {
            jbvType::jbvString => apply(rule, Leaf::String(&text_of(v)), ctx)?,
            jbvType::jbvNumeric => apply(rule, Leaf::Number(&number_text(v)), ctx)?,
            jbvType::jbvBool => apply(rule, Leaf::Bool, ctx)?,
            _ => return Ok(()),
        }
    };
    *v = replacement_value(v, replacement);
    Ok(())
}

/// Applies the rules to every leaf of `value`, iteratively.
fn transform(value: &JsonbDatum, spec: &super::Spec, ctx: &Context<'_>) -> Result<JsonbDatum> {
    let mut scope = Scope::new(spec);
    let mut v = null_value();
    // SAFETY: `value.0` is a detoasted jsonb valid for this call; the iterator reads it, and every value it
    // returns points into it. `pushJsonbValue` keeps scalars by value and strings by pointer, into `value` or
    // into palloc'd replacements, both alive until JsonbValueToJsonb has built the result.
    unsafe {
        let root = &mut (*value.0).root;
        // A whole value that is one string, number, … : its only leaf, under the default rule.
        if pg_sys::JsonbExtractScalar(root, &mut v) {
            replace_leaf(&mut v, scope.leaf_rule(), ctx)?;
            return Ok(JsonbDatum(pg_sys::JsonbValueToJsonb(&mut v)));
        }
        let mut state: *mut pg_sys::JsonbParseState = ptr::null_mut();
        let mut result: *mut pg_sys::JsonbValue = ptr::null_mut();
        let mut it = pg_sys::JsonbIteratorInit(root);
        let mut steps = Steps::default();
        loop {
            let token = pg_sys::JsonbIteratorNext(&mut it, &mut v, false);
            steps.step();
            let pushed: *mut pg_sys::JsonbValue = match token {
                Token::WJB_DONE => break,
                Token::WJB_BEGIN_OBJECT | Token::WJB_BEGIN_ARRAY => {
                    scope.begin(token == Token::WJB_BEGIN_OBJECT);
                    ptr::null_mut()
                }
                Token::WJB_END_OBJECT | Token::WJB_END_ARRAY => {
                    scope.end();
                    ptr::null_mut()
                }
                Token::WJB_KEY => {
                    scope.key(&text_of(&v));
                    &mut v
                }
                _ => {
                    replace_leaf(&mut v, scope.leaf_rule(), ctx)?;
                    &mut v
                }
            };
            result = pg_sys::pushJsonbValue(&mut state, token, pushed);
        }
        Ok(JsonbDatum(pg_sys::JsonbValueToJsonb(result)))
    }
}

/// The rules applied to `value`; a value PostgreSQL cannot rebuild (deeper than the stack allows here, or
/// grown past jsonb's size limits) becomes an empty object or array, or `null`, as its top level was.
fn transform_or_replace(value: JsonbDatum, rules: &str, ctx: &Context<'_>) -> Result<JsonbDatum> {
    let spec = spec_for(rules)?;
    // SAFETY: `value.0` is a detoasted jsonb; these read its root header only.
    let (object, array) = unsafe {
        let root = &(*value.0).root;
        (
            root.header & pg_sys::JB_FOBJECT != 0,
            root.header & pg_sys::JB_FARRAY != 0 && root.header & pg_sys::JB_FSCALAR == 0,
        )
    };
    let replace_whole = || {
        let empty = if object {
            "{}"
        } else if array {
            "[]"
        } else {
            "null"
        };
        Ok(JsonbDatum(jsonb_from_text(empty)))
    };
    PgTryBuilder::new(|| transform(&value, &spec, ctx))
        .catch_when(PgSqlErrorCode::ERRCODE_STATEMENT_TOO_COMPLEX, |_| {
            replace_whole()
        })
        .catch_when(PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED, |_| {
            replace_whole()
        })
        .execute()
}

/// Internal: the rules arrive as the text the plan stored, so they are parsed once per statement (`spec_for`),
/// not re-serialized for every row.
#[pg_extern(immutable, parallel_safe)]
fn _erase_jsonb(
    value: Option<JsonbDatum>,
    key: &[u8],
    rules: &str,
    identifiers: Option<i64>,
) -> Option<JsonbDatum> {
    let ctx = Context {
        key,
        identifiers: identifiers.unwrap_or(0),
    };
    value.map(|v| transform_or_replace(v, rules, &ctx).or_report())
}

/// `gdpr.pseudonymize_jsonb(value, rules)`: the `jsonb` strategy on its own, with the database key (rules as in
/// `declare_pii`). Not executable by PUBLIC: keyed.
#[pg_extern(name = "pseudonymize_jsonb", stable, strict, parallel_restricted)]
fn pseudonymize_jsonb(value: JsonbDatum, rules: JsonB) -> JsonbDatum {
    if !rules.0.is_object() {
        GdprError::InvalidParameter(format!("jsonb rules must be an object, got {}", rules.0))
            .report();
    }
    let key = crate::key::database_key_or_report();
    let ctx = Context {
        key: &key,
        identifiers: 0,
    };
    transform_or_replace(value, &rules.0.to_string(), &ctx).or_report()
}
