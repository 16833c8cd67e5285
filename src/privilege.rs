//! Who may do what, and as whom each statement runs (the trust model of the README's "Privileges and
//! security").
//!
//! * **Entitlement is checked as the caller.** Before touching a table, `require_privileges` checks that the
//!   calling role could do it itself: SELECT to find or read rows, UPDATE to lock or change them, DELETE to
//!   delete them — and that row-level security hides none of the table's rows from it.
//! * **Work runs as the table's owner.** `as_table_owner` runs the statements on a user table as its owner
//!   inside a security-restricted operation, the way PostgreSQL runs VACUUM, REFRESH MATERIALIZED VIEW and
//!   foreign-key checks (`SetUserIdAndSecContext(owner, SECURITY_LOCAL_USERID_CHANGE |
//!   SECURITY_RESTRICTED_OPERATION)`): a trigger, CHECK, domain, index expression, rule or policy a table owner
//!   wrote acts only with its author's rights, cannot `SET ROLE`, and settings it changes are rolled back.
//! * **The extension's own tables** (declarations, the audit log, markers, consents) are written as the
//!   extension owner through fixed statements (`as_extension_owner`), never through a SECURITY DEFINER entry
//!   point a role could call with arguments of its choosing.

use std::ffi::CStr;

use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::*;
use pgrx::PgLogLevel;

use crate::catalog::introspect::Table;
use crate::error::{GdprError, Result};

fn role_name(role: pg_sys::Oid) -> String {
    // SAFETY: GetUserNameFromId returns a palloc'd copy of the role's name (or raises for a dropped role).
    unsafe { CStr::from_ptr(pg_sys::GetUserNameFromId(role, false)) }
        .to_string_lossy()
        .into_owned()
}

/// The caller's role names: `(current_user, session_user)`.
pub fn caller() -> Result<(String, String)> {
    // SAFETY: plain reads of the backend's current and session user ids.
    let (current, session) = unsafe { (pg_sys::GetUserId(), pg_sys::GetSessionUserId()) };
    Ok((role_name(current), role_name(session)))
}

/// Declarations about a table may only be made by its owner (or a member of the owning role).
pub fn require_table_owner(table: &Table) -> Result<()> {
    if !is_owner(table) {
        return Err(GdprError::InsufficientPrivilege(format!(
            "must be owner of table {} to declare its personal data",
            table.display
        )));
    }
    Ok(())
}

/// Whether the caller owns `table` (is a member of its owning role, or a superuser).
pub fn is_owner(table: &Table) -> bool {
    // SAFETY: a catalog lookup by role oids.
    unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), table.owner) }
}

/// Whether the caller is a member of `role` in its own right — not merely through superuser powers. Bulk
/// operations (`pseudonymize_database`) only take the tables of roles the caller really belongs to.
pub fn is_member_of(role: pg_sys::Oid) -> bool {
    // SAFETY: a catalog lookup by role oids.
    unsafe { pg_sys::is_member_of_role_nosuper(pg_sys::GetUserId(), role) }
}

/// A table privilege the caller must hold itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    Insert,
    Select,
    Update,
    Delete,
    References,
}

impl Privilege {
    fn mode(self) -> pg_sys::AclMode {
        (match self {
            Privilege::Insert => pg_sys::ACL_INSERT,
            Privilege::Select => pg_sys::ACL_SELECT,
            Privilege::Update => pg_sys::ACL_UPDATE,
            Privilege::Delete => pg_sys::ACL_DELETE,
            Privilege::References => pg_sys::ACL_REFERENCES,
        }) as pg_sys::AclMode
    }

    pub fn name(self) -> &'static str {
        match self {
            Privilege::Insert => "INSERT",
            Privilege::Select => "SELECT",
            Privilege::Update => "UPDATE",
            Privilege::Delete => "DELETE",
            Privilege::References => "REFERENCES",
        }
    }
}

/// Whether the caller holds `privilege` on the table itself or on each of its columns.
pub fn has_privilege(table: pg_sys::Oid, privilege: Privilege) -> bool {
    // SAFETY: ACL lookups through the syscache for an existing relation and the current user.
    unsafe {
        let user = pg_sys::GetUserId();
        pg_sys::pg_class_aclcheck(table, user, privilege.mode()) == pg_sys::AclResult::ACLCHECK_OK
            || pg_sys::pg_attribute_aclcheck_all(
                table,
                user,
                privilege.mode(),
                pg_sys::AclMaskHow::ACLMASK_ALL,
            ) == pg_sys::AclResult::ACLCHECK_OK
    }
}

/// Whether the caller holds `privilege` on the table or on each of `columns` (attribute numbers), as a
/// FOREIGN KEY on those columns would require.
pub fn has_column_privilege(table: pg_sys::Oid, columns: &[i16], privilege: Privilege) -> bool {
    // SAFETY: ACL lookups through the syscache for an existing relation, its columns and the current user.
    unsafe {
        let user = pg_sys::GetUserId();
        pg_sys::pg_class_aclcheck(table, user, privilege.mode()) == pg_sys::AclResult::ACLCHECK_OK
            || columns.iter().all(|attnum| {
                pg_sys::pg_attribute_aclcheck(table, *attnum, user, privilege.mode())
                    == pg_sys::AclResult::ACLCHECK_OK
            })
    }
}

/// Whether row-level security would filter the caller's own queries on `table`.
fn row_security_applies(table: pg_sys::Oid) -> bool {
    // SAFETY: check_enable_rls reads the relation's flags and the caller's BYPASSRLS; noError = true.
    unsafe {
        pg_sys::check_enable_rls(table, pg_sys::Oid::INVALID, true)
            == pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32
    }
}

/// Checks that the caller may itself do `what` (`erasing guest 42`) on `table` with `privileges`, and that
/// row-level security hides none of its rows from the caller: a partial result is never a success.
pub fn require_privileges(table: &Table, privileges: &[Privilege], what: &str) -> Result<()> {
    let missing: Vec<&str> = privileges
        .iter()
        .filter(|p| !has_privilege(table.oid, **p))
        .map(|p| p.name())
        .collect();
    if !missing.is_empty() {
        let (role, _) = caller()?;
        let needed: Vec<&str> = privileges.iter().map(|p| p.name()).collect();
        return Err(GdprError::InsufficientPrivilege(format!(
            "permission denied for table {}: {what} needs {} on it, and role \"{role}\" lacks {}",
            table.display,
            needed.join(", "),
            missing.join(", ")
        )));
    }
    if row_security_applies(table.oid) {
        let (role, _) = caller()?;
        return Err(GdprError::InsufficientPrivilege(format!(
            "row-level security on table {} applies to role \"{role}\": {what} must see every row, and rows \
             hidden from the role would be left behind; grant the role BYPASSRLS, or let the table's owner do it",
            table.display
        )));
    }
    Ok(())
}

fn extension_owner() -> Result<pg_sys::Oid> {
    crate::cache::extension_owner(|| {
        Spi::get_one::<pg_sys::Oid>(
            "SELECT e.extowner FROM pg_catalog.pg_extension e
              WHERE e.extname OPERATOR(pg_catalog.=) 'pg_gdpr'::pg_catalog.name",
        )?
        .ok_or_else(|| {
            GdprError::UndefinedObject("extension pg_gdpr is not installed in this database".into())
        })
    })
}

/// Whether the caller is (a member of) the extension owner.
pub fn is_extension_owner() -> Result<bool> {
    let owner = extension_owner()?;
    // SAFETY: a catalog lookup by role oids.
    Ok(unsafe { pg_sys::has_privs_of_role(pg_sys::GetUserId(), owner) })
}

/// Restores the caller's identity and (on success) settings when dropped.
struct Switched {
    user: pg_sys::Oid,
    sec_context: i32,
    guc_nest_level: i32,
}

impl Drop for Switched {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // Settings changed by code the owner wrote (a trigger's set_config) do not leak into the caller's
            // session, as in ExecRefreshMatView. After an error, (sub)transaction abort rolls them back.
            // SAFETY: the nest level was opened by NewGUCNestLevel in `as_role`.
            unsafe { pg_sys::AtEOXact_GUC(false, self.guc_nest_level) };
        }
        // SAFETY: restores the values read by GetUserIdAndSecContext in `as_role`.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.sec_context) }
    }
}

/// Refuses to start `doing` on a standby. Erasures must run on the primary; and pg_gdpr's statements, even the
/// reading ones, take a transaction id (pgrx's SPI marks each transaction that runs one as writing), which a server
/// in recovery cannot assign: PostgreSQL's own error would be an internal XX000.
pub fn require_primary(doing: &str) -> Result<()> {
    // SAFETY: reads shared memory state; callable in any backend at any time.
    if unsafe { pg_sys::RecoveryInProgress() } {
        return Err(GdprError::ReadOnly(format!(
            "{doing} runs on the primary: this server is a standby (recovery in progress)"
        )));
    }
    Ok(())
}

/// Runs `f` with the extension owner's privileges, as a local user-id change that `SET ROLE` cannot undo.
/// `f` must only run fixed statements against the extension's own tables. Not a security-restricted operation:
/// no code a table owner wrote runs there (the extension's tables carry only the extension's triggers), and the
/// audit chain's links are queued for the commit (deferred triggers), which a restricted operation refuses.
pub fn as_extension_owner<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    switch_to(extension_owner()?, false, f)
}

/// What an error raised while `doing` something to `table` as its owner is prefixed with.
pub fn owner_context(table: &Table, doing: &str) -> String {
    format!(
        "{doing} table {} as its owner {}",
        table.display,
        role_name(table.owner)
    )
}

/// Runs `f` — statements on `table`'s rows — as the table's owner in a security-restricted operation. An
/// error raised meanwhile (by a trigger, a CHECK, a lock timeout…) keeps its SQLSTATE and gets the table and
/// what was being done in front of its message.
pub fn as_table_owner<T>(table: &Table, doing: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    // The prefix is only built when an error is raised: this runs for every statement of an erasure.
    naming_errors(|| owner_context(table, doing), || as_role(table.owner, f))
}

/// `as_role`, with errors prefixed by `context` (see `as_table_owner`).
pub fn as_role_naming<T>(
    role: pg_sys::Oid,
    context: &str,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    naming_errors(|| context.to_string(), || as_role(role, f))
}

/// Re-raises a PostgreSQL error from `f` as `gdpr: <context>: <message>` with its SQLSTATE, detail and hint.
/// (pgrx carries an error's message across Rust frames but not its CONTEXT lines, so the table goes into
/// the message.) The transaction is aborted either way: nothing is caught and carried on.
fn naming_errors<T>(
    context: impl Fn() -> String + std::panic::RefUnwindSafe + std::panic::UnwindSafe,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .catch_others(|caught| match caught {
            CaughtError::PostgresError(report) => {
                let message = report.message();
                let message = message.strip_prefix("gdpr: ").unwrap_or(message);
                let mut renamed = ErrorReport::new(
                    report.sql_error_code(),
                    format!("gdpr: {}: {message}", context()),
                    "",
                );
                if let Some(detail) = report.detail() {
                    renamed = renamed.set_detail(detail);
                }
                if let Some(hint) = report.hint() {
                    renamed = renamed.set_hint(hint);
                }
                renamed.report(PgLogLevel::ERROR);
                unreachable!("ERROR-level reports do not return")
            }
            other => other.rethrow(),
        })
        .execute()
}

/// Runs `f` as `role` in a security-restricted operation with row security not forced (as PostgreSQL's
/// foreign-key checks run as the referenced table's owner).
pub fn as_role<T>(role: pg_sys::Oid, f: impl FnOnce() -> Result<T>) -> Result<T> {
    switch_to(role, true, f)
}

fn switch_to<T>(role: pg_sys::Oid, restricted: bool, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let restricted = if restricted {
        pg_sys::SECURITY_RESTRICTED_OPERATION as i32
    } else {
        0
    };
    let mut user = pg_sys::Oid::INVALID;
    let mut sec_context = 0;
    // SAFETY: plain reads/writes of the backend's current user id and GUC nest level, restored by the guard.
    let switched = unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut sec_context);
        let guc_nest_level = pg_sys::NewGUCNestLevel();
        pg_sys::SetUserIdAndSecContext(
            role,
            sec_context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | restricted
                | pg_sys::SECURITY_NOFORCE_RLS as i32,
        );
        Switched {
            user,
            sec_context,
            guc_nest_level,
        }
    };
    pin_output_settings();
    let result = f();
    drop(switched);
    result
}

/// How values are written as text inside the extension's statements, whatever the session set: row identities
/// travel as text and are cast back (a float written with fewer digits would name another row), and subject
/// ids are logged in this form. Set only where the session differs, at the GUC nest level `as_role` opened,
/// so they are rolled back with it.
const OUTPUT_SETTINGS: [(&std::ffi::CStr, &std::ffi::CStr, &str); 4] = [
    (c"extra_float_digits", c"1", "1"),
    (c"DateStyle", c"ISO", "ISO"),
    (c"IntervalStyle", c"postgres", "postgres"),
    (c"bytea_output", c"hex", "hex"),
];

fn pin_output_settings() {
    for (name, value, prefix) in OUTPUT_SETTINGS {
        // SAFETY: GetConfigOption returns a pointer to the setting's current string (valid until the next
        // change, read at once); set_config_option copies its arguments and reports errors as ERRORs.
        unsafe {
            let current = pg_sys::GetConfigOption(name.as_ptr(), true, false);
            let differs = current.is_null()
                || !std::ffi::CStr::from_ptr(current)
                    .to_string_lossy()
                    .starts_with(prefix);
            if differs {
                pg_sys::set_config_option(
                    name.as_ptr(),
                    value.as_ptr(),
                    pg_sys::GucContext::PGC_USERSET,
                    pg_sys::GucSource::PGC_S_SESSION,
                    pg_sys::GucAction::GUC_ACTION_SAVE,
                    true,
                    0,
                    false,
                );
            }
        }
    }
}
