//! One error type for the whole extension: every failure a user can cause maps to a SQLSTATE and a
//! message that starts with `gdpr:` and names the object involved.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub type Result<T> = std::result::Result<T, GdprError>;

#[derive(Debug, thiserror::Error)]
pub enum GdprError {
    #[error("gdpr: {0}")]
    InvalidParameter(String),
    #[error("gdpr: {0}")]
    NullValue(String),
    #[error("gdpr: {0}")]
    InvalidTextRepresentation(String),
    #[error("gdpr: {0}")]
    UndefinedTable(String),
    #[error("gdpr: {0}")]
    UndefinedColumn(String),
    #[error("gdpr: {0}")]
    UndefinedObject(String),
    #[error("gdpr: {0}")]
    UndefinedSchema(String),
    #[error("gdpr: {0}")]
    DatatypeMismatch(String),
    #[error("gdpr: {0}")]
    InvalidDefinition(String),
    #[error("gdpr: {0}")]
    InvalidForeignKey(String),
    #[error("gdpr: {0}")]
    NoDataFound(String),
    #[error("gdpr: {0}")]
    InsufficientPrivilege(String),
    #[error("gdpr: {0}")]
    ObjectChanged(String),
    #[error("gdpr: {0}")]
    ObjectState(String),
    #[error("gdpr: {0}")]
    ReadOnly(String),
    #[error("gdpr: {0}")]
    NotNullViolation(String),
    #[error("gdpr: {0}")]
    ForeignKeyViolation(String),
    #[error("gdpr: {0}")]
    CheckViolation(String),
    #[error("gdpr: {0}")]
    DependentObjects(String),
    #[error("gdpr: internal error: {0}")]
    Spi(#[from] pgrx::spi::SpiError),
    #[error("gdpr: internal error: {0}")]
    Json(#[from] serde_json::Error),
}

impl GdprError {
    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            GdprError::InvalidParameter(_) => ERRCODE_INVALID_PARAMETER_VALUE, // 22023
            GdprError::NullValue(_) => ERRCODE_NULL_VALUE_NOT_ALLOWED,         // 22004
            GdprError::InvalidTextRepresentation(_) => ERRCODE_INVALID_TEXT_REPRESENTATION, // 22P02
            GdprError::UndefinedTable(_) => ERRCODE_UNDEFINED_TABLE,           // 42P01
            GdprError::UndefinedColumn(_) => ERRCODE_UNDEFINED_COLUMN,         // 42703
            GdprError::UndefinedObject(_) => ERRCODE_UNDEFINED_OBJECT,         // 42704
            GdprError::UndefinedSchema(_) => ERRCODE_INVALID_SCHEMA_NAME,      // 3F000
            GdprError::DatatypeMismatch(_) => ERRCODE_DATATYPE_MISMATCH,       // 42804
            GdprError::InvalidDefinition(_) => ERRCODE_INVALID_OBJECT_DEFINITION, // 42P17
            GdprError::InvalidForeignKey(_) => ERRCODE_INVALID_FOREIGN_KEY,    // 42830
            GdprError::NoDataFound(_) => ERRCODE_NO_DATA_FOUND,                // P0002
            GdprError::InsufficientPrivilege(_) => ERRCODE_INSUFFICIENT_PRIVILEGE, // 42501
            GdprError::ObjectChanged(_) => ERRCODE_T_R_SERIALIZATION_FAILURE,  // 40001
            GdprError::ObjectState(_) => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, // 55000
            GdprError::ReadOnly(_) => ERRCODE_READ_ONLY_SQL_TRANSACTION,       // 25006
            GdprError::NotNullViolation(_) => ERRCODE_NOT_NULL_VIOLATION,      // 23502
            GdprError::ForeignKeyViolation(_) => ERRCODE_FOREIGN_KEY_VIOLATION, // 23503
            GdprError::CheckViolation(_) => ERRCODE_CHECK_VIOLATION,           // 23514
            GdprError::DependentObjects(_) => ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST, // 2BP01
            GdprError::Spi(_) | GdprError::Json(_) => ERRCODE_INTERNAL_ERROR,  // XX000
        }
    }

    /// The same error (same SQLSTATE) with its message placed after `context`: `gdpr: <context>: <message>`.
    pub fn in_context(self, context: &str) -> GdprError {
        use GdprError::*;
        let message = |m: String| format!("{context}: {m}");
        match self {
            InvalidParameter(m) => InvalidParameter(message(m)),
            NullValue(m) => NullValue(message(m)),
            InvalidTextRepresentation(m) => InvalidTextRepresentation(message(m)),
            UndefinedTable(m) => UndefinedTable(message(m)),
            UndefinedColumn(m) => UndefinedColumn(message(m)),
            UndefinedObject(m) => UndefinedObject(message(m)),
            UndefinedSchema(m) => UndefinedSchema(message(m)),
            DatatypeMismatch(m) => DatatypeMismatch(message(m)),
            InvalidDefinition(m) => InvalidDefinition(message(m)),
            InvalidForeignKey(m) => InvalidForeignKey(message(m)),
            NoDataFound(m) => NoDataFound(message(m)),
            InsufficientPrivilege(m) => InsufficientPrivilege(message(m)),
            ObjectChanged(m) => ObjectChanged(message(m)),
            ObjectState(m) => ObjectState(message(m)),
            ReadOnly(m) => ReadOnly(message(m)),
            NotNullViolation(m) => NotNullViolation(message(m)),
            ForeignKeyViolation(m) => ForeignKeyViolation(message(m)),
            CheckViolation(m) => CheckViolation(message(m)),
            DependentObjects(m) => DependentObjects(message(m)),
            other @ (Spi(_) | Json(_)) => other,
        }
    }

    /// Raises the error in PostgreSQL (aborting the statement and its transaction).
    pub fn report(self) -> ! {
        let code = self.sqlstate();
        ErrorReport::new(code, self.to_string(), "").report(PgLogLevel::ERROR);
        unreachable!("ERROR-level reports do not return")
    }
}

/// Turns a NULL argument into a clear error instead of a silently ignored call.
pub fn required<T>(value: Option<T>, function: &str, arg: &str) -> Result<T> {
    value.ok_or_else(|| {
        GdprError::NullValue(format!("{function}: argument \"{arg}\" must not be NULL"))
    })
}

/// `result.or_report()` in the thin `#[pg_extern]` wrappers.
pub trait OrReport<T> {
    fn or_report(self) -> T;
}

impl<T> OrReport<T> for Result<T> {
    fn or_report(self) -> T {
        self.unwrap_or_else(|e| e.report())
    }
}
