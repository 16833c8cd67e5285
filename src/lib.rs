//! pg_gdpr: GDPR inside PostgreSQL.
//!
//! * `catalog`  — declarations made by migrations (subjects, PII policies, erase actions, links), validated.
//! * `strategy` — the fixed vocabulary of pseudonymization strategies, one small file each.
//! * `subject`  — the reference graph, cached erasure plans, set-based erasure and the erased-subject guard.
//! * `consent`  — consent texts and consents, the consent trigger and what withdrawing does.
//! * `request`  — a person's request: find them, export what is held about them, locate traces.
//! * `retention`— expired rows erased in committed batches (`gdpr.enforce_retention`), legal holds respected.
//! * `normalize`— normal forms of e-mails, phones and names (find) and text folding (traces).
//! * `lint`     — `gdpr.lint()`: what makes erasures slow or fail, finds slow, declarations stale.
//! * `audit`    — the append-only erasure log.
//! * `privilege`— ownership checks and the narrow switch to the extension owner for its own tables.
//!
//! SQL files in `sql/` hold the config tables, the security header and the grants.

use pgrx::prelude::*;

pub mod audit;
pub mod cache;
pub mod catalog;
pub mod consent;
pub mod error;
mod interrupts;
pub mod key;
pub mod lint;
pub mod normalize;
pub mod privilege;
pub mod pseudonymize;
pub mod replay;
pub mod request;
pub mod retention;
pub mod strategy;
pub mod subject;

pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/consent.sql", name = "consent");
extension_sql_file!("../sql/proofs.sql", name = "proofs", requires = ["consent"]);
extension_sql_file!("../sql/api.sql", name = "api", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Errors reach clients: a Rust backtrace (captured by pgrx's panic hook when RUST_BACKTRACE is set in the
    // server's environment) must never be appended to their DETAIL. The backend is single-threaded here.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    cache::register_invalidation_callback();
    normalize::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
