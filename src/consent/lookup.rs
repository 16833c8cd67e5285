//! The consent trigger's one lookup, done the way PostgreSQL's executor does it but without SPI (it runs for
//! every inserted row; SPI's executor setup costs more than the probe): one primary-key probe of gdpr.consent
//! and a FOR KEY SHARE lock on the row found, following its update chain, so a withdrawal committed while we
//! waited is seen. It reads fixed columns of the extension's own table, so no privilege switch is needed.

use pgrx::pg_sys;

use crate::error::{GdprError, Result};

pub struct Consent {
    pub text_id: i64,
    pub withdrawn: bool,
    /// `(subject_kind, subject_id)` when asked for (`with_subject`) and recorded.
    pub subject: Option<(String, String)>,
}

/// Where the lookup reads: gdpr.consent, its primary-key index, and the attribute numbers of `text_id` and
/// `withdrawn_at` (cached per backend, see cache::consent_relations).
#[derive(Clone, Copy)]
pub struct ConsentTable {
    pub table: pg_sys::Oid,
    pub pkey: pg_sys::Oid,
    pub text_id: i32,
    pub withdrawn_at: i32,
    pub subject_kind: i32,
    pub subject_id: i32,
}

/// Finds consent `id` and locks it FOR KEY SHARE (the lock its FOREIGN KEY check takes next anyway).
pub fn find_and_lock(at: ConsentTable, id: i64, with_subject: bool) -> Result<Option<Consent>> {
    let (consent, pkey) = (at.table, at.pkey);
    // SAFETY: the relation and index are opened and closed here, the snapshot registered and unregistered,
    // the slot created and dropped; an ERROR in between is cleaned up by the transaction's resource owner.
    unsafe {
        let rel = pg_sys::table_open(consent, pg_sys::RowShareLock as pg_sys::LOCKMODE);
        let index = pg_sys::index_open(pkey, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        // Read committed: the latest committed state; repeatable read and above: the transaction's snapshot
        // (a concurrent withdrawal then fails the lock with a serialization error).
        let snapshot = pg_sys::RegisterSnapshot(
            if pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 {
                pg_sys::GetTransactionSnapshot()
            } else {
                pg_sys::GetLatestSnapshot()
            },
        );
        let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
        pg_sys::ScanKeyInit(
            &mut key,
            1,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::Oid::from(pg_sys::F_INT8EQ),
            pg_sys::Datum::from(id),
        );
        let scan = pg_sys::index_beginscan(rel, index, snapshot, 1, 0);
        pg_sys::index_rescan(scan, &mut key, 1, std::ptr::null_mut(), 0);
        let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());

        let found =
            pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot);
        let result = match (found, (*(*rel).rd_tableam).tuple_lock) {
            (false, _) => Ok(None),
            (true, None) => Err(GdprError::InvalidDefinition(
                "gdpr.consent uses a table access method that cannot lock rows".into(),
            )),
            (true, Some(tuple_lock)) => {
                let mut tid = (*slot).tts_tid;
                let mut failure: pg_sys::TM_FailureData = std::mem::zeroed();
                let locked = tuple_lock(
                    rel,
                    &mut tid,
                    snapshot,
                    slot,
                    pg_sys::GetCurrentCommandId(false),
                    pg_sys::LockTupleMode::LockTupleKeyShare,
                    pg_sys::LockWaitPolicy::LockWaitBlock,
                    pg_sys::TUPLE_LOCK_FLAG_FIND_LAST_VERSION as u8,
                    &mut failure,
                );
                match locked {
                    pg_sys::TM_Result::TM_Ok => Ok(Some(read(at, slot, with_subject))),
                    pg_sys::TM_Result::TM_Deleted => Ok(None),
                    other => Err(GdprError::ObjectChanged(format!(
                        "consent {id} changed while being checked (lock result {other}); retry"
                    ))),
                }
            }
        };

        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::index_endscan(scan);
        pg_sys::UnregisterSnapshot(snapshot);
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        // The row lock and the relation lock are held until the end of the transaction, as a FOREIGN KEY's are.
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        result
    }
}

/// # Safety
/// `slot` must hold a tuple of gdpr.consent.
unsafe fn read(at: ConsentTable, slot: *mut pg_sys::TupleTableSlot, with_subject: bool) -> Consent {
    let mut is_null = false;
    let text_id = pg_sys::slot_getattr(slot, at.text_id, &mut is_null);
    let text_id = if is_null { 0 } else { text_id.value() as i64 };
    pg_sys::slot_getattr(slot, at.withdrawn_at, &mut is_null);
    let withdrawn = !is_null;
    let subject = if with_subject {
        text_attr(slot, at.subject_kind).zip(text_attr(slot, at.subject_id))
    } else {
        None
    };
    Consent {
        text_id,
        withdrawn,
        subject,
    }
}

/// A text column of the tuple in `slot` (None: NULL).
///
/// # Safety
/// `slot` must hold a tuple whose attribute `attnum` is of type text.
unsafe fn text_attr(slot: *mut pg_sys::TupleTableSlot, attnum: i32) -> Option<String> {
    let mut is_null = false;
    let datum = pg_sys::slot_getattr(slot, attnum, &mut is_null);
    if is_null {
        return None;
    }
    // text_to_cstring detoasts and returns a palloc'd copy.
    let c = pg_sys::text_to_cstring(datum.cast_mut_ptr());
    let value = std::ffi::CStr::from_ptr(c).to_string_lossy().into_owned();
    pg_sys::pfree(c.cast());
    Some(value)
}
