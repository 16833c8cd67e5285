//! Who may do what.
//!
//! Declarations and the audit log live in tables only the extension owner can write. Functions that must
//! write them run as the caller (so user tables are touched with the caller's rights only) and switch to the
//! extension owner just for the fixed statement that writes the extension's own table — the way PostgreSQL's
//! referential-integrity triggers switch to the table owner. No SECURITY DEFINER entry point exists that a
//! role could call with arguments of its choosing.

use pgrx::prelude::*;

use crate::catalog::introspect::Table;
use crate::error::{GdprError, Result};

/// The caller's role names: `(current_user, session_user)`.
pub fn caller() -> Result<(String, String)> {
    let name = |role: pg_sys::Oid| {
        // SAFETY: GetUserNameFromId returns a palloc'd copy of the role's name (or raises for a dropped role).
        unsafe { std::ffi::CStr::from_ptr(pg_sys::GetUserNameFromId(role, false)) }
            .to_string_lossy()
            .into_owned()
    };
    // SAFETY: plain reads of the backend's current and session user ids.
    let (current, session) = unsafe { (pg_sys::GetUserId(), pg_sys::GetSessionUserId()) };
    Ok((name(current), name(session)))
}

/// Declarations about a table may only be made by its owner (or a member of the owning role).
pub fn require_table_owner(table: &Table) -> Result<()> {
    let owns = Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
           FROM pg_catalog.pg_class c WHERE c.oid = $1",
        &[table.oid.into()],
    )?
    .unwrap_or(false);
    if !owns {
        return Err(GdprError::InsufficientPrivilege(format!(
            "must be owner of table {} to declare its personal data",
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

/// Restores the caller's identity when dropped, also while unwinding from an error.
struct RestoreUser {
    user: pg_sys::Oid,
    context: i32,
}

impl Drop for RestoreUser {
    fn drop(&mut self) {
        // SAFETY: restores the values read by GetUserIdAndSecContext in `as_extension_owner`.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) }
    }
}

/// Runs `f` with the extension owner's privileges, as a local user-id change that `SET ROLE` cannot undo.
/// `f` must only run fixed statements against the extension's own tables.
pub fn as_extension_owner<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    as_role(extension_owner()?, f)
}

/// Runs `f` as `role` (a table's owner, as PostgreSQL's foreign-key checks do), row security not forced.
pub fn as_role<T>(role: pg_sys::Oid, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let mut user = pg_sys::Oid::INVALID;
    let mut context = 0;
    // SAFETY: plain reads/writes of the backend's current user id, restored by the guard.
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(
            role,
            context
                | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32
                | pg_sys::SECURITY_RESTRICTED_OPERATION as i32
                | pg_sys::SECURITY_NOFORCE_RLS as i32,
        );
    }
    let _restore = RestoreUser { user, context };
    f()
}
