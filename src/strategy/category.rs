//! Data categories: what kind of personal data a declared column holds (Art. 15's "categories of personal data
//! concerned"). They decide where `gdpr.find_subjects` looks, what an export lists and what `gdpr.locate`
//! hunts for in trace columns.

use super::Options;
use crate::catalog::introspect::Column;
use crate::error::{GdprError, Result};

/// The fixed vocabulary.
pub const CATEGORIES: &[&str] = &[
    "email",
    "phone",
    "name",
    "address",
    "ip",
    "date_of_birth",
    "identifier",
    "free_text",
    "location",
    "device",
    "other",
];

/// The option that sets a policy's category (accepted by every strategy).
pub const OPTION: &str = "category";

/// The category of a policy: the `category` option, else what the strategy says, else `other`.
pub fn of_policy(
    table: &str,
    col: &Column,
    strategy: &str,
    options: &Options,
) -> Result<&'static str> {
    if let Some(value) = options.get(OPTION) {
        return value
            .as_str()
            .and_then(|v| CATEGORIES.iter().copied().find(|c| *c == v))
            .ok_or_else(|| {
                GdprError::InvalidParameter(format!(
                    "category {value} of {table}.{} is not one of: {}",
                    col.name,
                    CATEGORIES.join(", ")
                ))
            });
    }
    let category = of_strategy(col, strategy);
    // A per-row policy that nulls some rows and, say, scrubs the others holds what the other strategy says.
    Ok(match super::conditional::else_strategy(options) {
        Some(other) if category == "other" => of_strategy(col, other),
        _ => category,
    })
}

fn of_strategy(col: &Column, strategy: &str) -> &'static str {
    match strategy {
        "fake_email" => "email",
        "fake_phone" => "phone",
        "fake_name" | "fake_first_name" | "fake_last_name" => "name",
        "fake_address" | "fake_city" => "address",
        "generalize" if matches!(col.type_sql.as_str(), "inet" | "cidr") => "ip",
        "scrub" => "free_text",
        _ => "other",
    }
}

/// A category the column's name suggests, for `gdpr.lint()` to propose where a policy says only `other`.
pub fn suggested_by_name(column: &str) -> Option<&'static str> {
    let column = column.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| column.contains(w));
    if has(&["mail"]) {
        Some("email")
    } else if has(&["phone", "tel", "mobil", "msisdn"]) {
        Some("phone")
    } else if has(&["birth", "dob"]) {
        Some("date_of_birth")
    } else if has(&["name", "jmeno", "prijmeni"]) {
        Some("name")
    } else if has(&["addr", "street", "city", "zip", "postal"]) {
        Some("address")
    } else if column == "ip" || has(&["_ip", "ip_"]) {
        Some("ip")
    } else {
        None
    }
}
