//! `fake_name`, `fake_first_name`, `fake_last_name`, `fake_city`, `fake_company`, `fake_address`: realistic
//! values from fake-rs, drawn from a ChaCha20 generator seeded with the keyed digest of the original value
//! (the same input gives the same fake under the same key, across releases). Option `locale`: en (default),
//! de_de, fr_fr, it_it, pt_br, pt_pt. On UNIQUE columns a 16-hex-digit keyed suffix keeps values distinct.

use fake::faker::address::raw::{BuildingNumber, CityName, PostCode, StreetName};
use fake::faker::company::raw::CompanyName;
use fake::faker::name::raw::{FirstName, LastName};
use fake::locales::{DE_DE, EN, FR_FR, IT_IT, PT_BR, PT_PT};
use fake::Fake;
use pgrx::prelude::*;

use super::{max_len_arg, pseudonym, require_min_len, require_text, ExprParams, Options, Strategy};
use crate::catalog::introspect::Column;
use crate::error::{GdprError, Result};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Name,
    FirstName,
    LastName,
    City,
    Company,
    Address,
}

pub const LOCALES: [&str; 6] = ["en", "de_de", "fr_fr", "it_it", "pt_br", "pt_pt"];

impl Kind {
    fn from_name(name: &str) -> Option<Kind> {
        KINDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

/// The strategies this file provides, by name.
pub const KINDS: [(&str, Kind); 6] = [
    ("fake_name", Kind::Name),
    ("fake_first_name", Kind::FirstName),
    ("fake_last_name", Kind::LastName),
    ("fake_city", Kind::City),
    ("fake_company", Kind::Company),
    ("fake_address", Kind::Address),
];

/// Generates one value of `kind` in the locale `L`.
macro_rules! generate_in {
    ($locale:expr, $kind:expr, $rng:expr) => {{
        let rng: &mut pseudonym::FakeRng = $rng;
        match $kind {
            Kind::FirstName => FirstName($locale).fake_with_rng::<String, _>(rng),
            Kind::LastName => LastName($locale).fake_with_rng::<String, _>(rng),
            Kind::Name => {
                let first: String = FirstName($locale).fake_with_rng(rng);
                let last: String = LastName($locale).fake_with_rng(rng);
                format!("{first} {last}")
            }
            Kind::City => CityName($locale).fake_with_rng::<String, _>(rng),
            Kind::Company => CompanyName($locale).fake_with_rng::<String, _>(rng),
            Kind::Address => {
                let street: String = StreetName($locale).fake_with_rng(rng);
                let number: String = BuildingNumber($locale).fake_with_rng(rng);
                let post: String = PostCode($locale).fake_with_rng(rng);
                let city: String = CityName($locale).fake_with_rng(rng);
                format!("{street} {number}, {post} {city}")
            }
        }
    }};
}

fn generate(kind: Kind, locale: &str, rng: &mut pseudonym::FakeRng) -> String {
    match locale {
        "de_de" => generate_in!(DE_DE, kind, rng),
        "fr_fr" => generate_in!(FR_FR, kind, rng),
        "it_it" => generate_in!(IT_IT, kind, rng),
        "pt_br" => generate_in!(PT_BR, kind, rng),
        "pt_pt" => generate_in!(PT_PT, kind, rng),
        _ => generate_in!(EN, kind, rng),
    }
}

/// A fake of `kind` for `value`; on UNIQUE columns with a keyed suffix that is never cut off.
pub fn fake(
    kind: Kind,
    value: &str,
    key: &[u8],
    locale: &str,
    unique: bool,
    max_len: Option<i32>,
) -> String {
    let domain = KINDS
        .iter()
        .find(|(_, k)| *k == kind)
        .map_or("fake", |(n, _)| n);
    let mut rng = pseudonym::rng(key, domain, value);
    let text = generate(kind, locale, &mut rng);
    let suffix = if unique {
        format!(" {}", pseudonym::unique_suffix(key, domain, value))
    } else {
        String::new()
    };
    let room = max_len.map(|n| n - suffix.chars().count() as i32);
    format!("{}{suffix}", pseudonym::fit(text, room))
}

pub struct FakeText(pub &'static str);

pub(crate) fn locale_option(strategy: &str, options: &Options) -> Result<String> {
    match options.get("locale") {
        None => Ok("en".to_string()),
        Some(serde_json::Value::String(l)) if LOCALES.contains(&l.as_str()) => Ok(l.clone()),
        Some(other) => Err(GdprError::InvalidParameter(format!(
            "option \"locale\" of strategy \"{strategy}\" must be one of {}, got {other}",
            LOCALES.join(", ")
        ))),
    }
}

impl Strategy for FakeText {
    fn name(&self) -> &'static str {
        self.0
    }
    fn option_keys(&self) -> &'static [&'static str] {
        &["locale"]
    }
    fn validate(&self, table: &str, col: &Column, options: &Options) -> Result<()> {
        require_text(self.0, table, col)?;
        locale_option(self.0, options)?;
        if col.unique {
            require_min_len(self.0, table, col, 32)?;
        }
        Ok(())
    }
    fn erase_expr(&self, col: &Column, options: &Options, sql: &mut ExprParams) -> Option<String> {
        let locale = locale_option(self.0, options).ok()?;
        Some(format!(
            "gdpr._erase_fake({}, {}, {}, {}, {}, {})",
            sql.text(self.0),
            col.sql_name,
            sql.key(),
            sql.text(locale),
            col.unique,
            max_len_arg(col)
        ))
    }
}

/// Internal: the fake strategies during erasures and pseudonymization (the key is an argument).
#[pg_extern(immutable, parallel_safe)]
fn _erase_fake(
    strategy: &str,
    value: Option<&str>,
    key: &[u8],
    locale: &str,
    is_unique: bool,
    max_len: Option<i32>,
) -> Option<String> {
    let kind = Kind::from_name(strategy).unwrap_or_else(|| {
        GdprError::InvalidParameter(format!("unknown fake strategy \"{strategy}\"")).report()
    });
    value.map(|v| fake(kind, v, key, locale, is_unique, max_len))
}

/// `gdpr.fake_name(value)` etc. with the database key. Not executable by PUBLIC (an oracle otherwise).
macro_rules! keyed_fake_function {
    ($rust:ident, $sql:literal, $kind:expr) => {
        #[pg_extern(name = $sql, stable, strict, parallel_restricted)]
        fn $rust(value: &str) -> String {
            fake(
                $kind,
                value,
                &crate::key::database_key_or_report(),
                "en",
                false,
                None,
            )
        }
    };
}
keyed_fake_function!(fake_name_with_database_key, "fake_name", Kind::Name);
keyed_fake_function!(
    fake_first_name_with_database_key,
    "fake_first_name",
    Kind::FirstName
);
keyed_fake_function!(
    fake_last_name_with_database_key,
    "fake_last_name",
    Kind::LastName
);
keyed_fake_function!(fake_city_with_database_key, "fake_city", Kind::City);
keyed_fake_function!(
    fake_company_with_database_key,
    "fake_company",
    Kind::Company
);
keyed_fake_function!(
    fake_address_with_database_key,
    "fake_address",
    Kind::Address
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_key_and_locale() {
        for (_, kind) in KINDS {
            let a = fake(kind, "Příliš Žluťoučký", b"k", "en", false, None);
            assert!(!a.is_empty());
            assert_eq!(a, fake(kind, "Příliš Žluťoučký", b"k", "en", false, None));
            assert_ne!(
                a,
                fake(kind, "Příliš Žluťoučký", b"another key", "en", false, None),
                "{kind:?}"
            );
        }
        assert!(fake(Kind::Name, "x", b"k", "de_de", false, None).contains(' '));
    }

    #[test]
    fn unique_suffix_survives_cutting() {
        let v = fake(
            Kind::Address,
            "Vinohradská 12, Praha",
            b"k",
            "en",
            true,
            Some(32),
        );
        assert!(v.chars().count() <= 32, "{v}");
        assert_eq!(v.rsplit(' ').next().unwrap().len(), 16);
        assert_eq!(fake(Kind::City, "", b"k", "en", false, Some(0)), "");
    }
}
