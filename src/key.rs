//! The database's pseudonymization key: 32 random bytes generated at CREATE EXTENSION, kept in `gdpr.key`
//! (readable by the extension owner only — never a GUC or a role/database setting), read through the owner
//! switch and cached per backend until `gdpr.rotate_key()` (or any change to the table) invalidates it.
//! Deterministic pseudonyms (`pseudonymize_*`, `gdpr.hash()` …) use it; erasures use a one-time key instead.

use std::rc::Rc;

use pgrx::prelude::*;
use rand::Rng;

use crate::cache;
use crate::error::{GdprError, OrReport, Result};
use crate::privilege::as_extension_owner;

pub fn database_key() -> Result<Rc<Vec<u8>>> {
    cache::key(|| {
        as_extension_owner(|| {
            // Fully qualified and operator-free: safe under any caller search_path.
            Spi::get_one::<Vec<u8>>("SELECT (SELECT k.key FROM gdpr.key k ORDER BY k.id DESC LIMIT 1)")?
                .ok_or_else(|| {
                    GdprError::UndefinedObject(
                        "no pseudonymization key in gdpr.key (run gdpr.rotate_key() as the extension owner)".into(),
                    )
                })
        })
    })
}

/// The database key, raising the error in PostgreSQL: for the keyed SQL functions.
pub fn database_key_or_report() -> Rc<Vec<u8>> {
    database_key().or_report()
}

/// 32 bytes from the operating system's CSPRNG (through rand's thread RNG).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn _generate_key() -> Vec<u8> {
    let key: [u8; 32] = rand::rng().random();
    key.to_vec()
}
