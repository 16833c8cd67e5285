//! `gdpr.require_consent` / `gdpr.drop_consent_requirement`: called from migrations by the table's owner.
//! Installs the consent trigger and a FOREIGN KEY to `gdpr.consent`, and records the requirement.

use pgrx::prelude::*;

use crate::catalog::introspect::{self, Table};
use crate::error::{GdprError, Result};
use crate::privilege::{
    as_extension_owner, as_table_owner, has_privilege, is_extension_owner, require_table_owner,
    Privilege,
};
use crate::subject::graph;

pub const ON_WITHDRAW: [&str; 3] = ["keep", "block", "anonymize"];

/// `gdpr_consent_<col>`, cut to PostgreSQL's 63-byte identifiers on a character boundary.
fn trigger_name(col: &str) -> String {
    let mut name = format!("gdpr_consent_{col}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

fn fkey_name(table: &Table, col: &str) -> Result<String> {
    // The name PostgreSQL itself would choose for the constraint, so it reads naturally in \d.
    Ok(Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.left(c.relname::text || '_' || $2 || '_fkey', 63)
           FROM pg_catalog.pg_class c WHERE c.oid = $1",
        &[table.oid.into(), col.into()],
    )?
    .unwrap_or_default())
}

/// An existing FOREIGN KEY of exactly (col) to gdpr.consent, if any.
fn existing_fkey(table: &Table, col: &str) -> Result<Option<String>> {
    first_text(
        "SELECT k.conname::text FROM pg_catalog.pg_constraint k
           JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attname = $2
          WHERE k.conrelid = $1 AND k.contype = 'f' AND k.confrelid = 'gdpr.consent'::regclass
            AND k.conkey = ARRAY[a.attnum] AND k.conparentid = 0
          ORDER BY 1 LIMIT 1",
        &[table.oid.into(), col.into()],
    )
}

/// The first column of the first row, None when there is no row (or it is NULL).
fn first_text(sql: &str, args: &[pgrx::datum::DatumWithOid<'_>]) -> Result<Option<String>> {
    Spi::connect(|client| {
        let mut rows = client.select(sql, Some(1), args)?;
        Ok(match rows.next() {
            Some(r) => r.get::<String>(1)?,
            None => None,
        })
    })
}

/// Runs DDL built by PostgreSQL's `format()`: `%I` quotes identifiers, `%L` literals, `%s` is for names that
/// are already quoted (a `Table`'s `sql_name`).
fn ddl(template: &str, args: &[&str]) -> Result<()> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let sql = Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.format($1, VARIADIC $2::text[])",
        &[template.into(), args.into()],
    )?
    .unwrap_or_default();
    Spi::run(&sql)?;
    Ok(())
}

fn drop_trigger_if_present(table: &Table, name: &str) -> Result<()> {
    if introspect::trigger(table.oid, name)?.is_some() {
        ddl("DROP TRIGGER %I ON %s", &[name, &table.sql_name])?;
    }
    Ok(())
}

/// Consent requirements bind consents, which belong to everyone: declaring one needs the consent-administration
/// grant (gdpr.grant_consent_administration) besides owning the table — otherwise any table owner could pin
/// other people's consents (on_withdraw => block) or probe which consent ids exist.
fn require_consent_administration(table: &Table) -> Result<()> {
    let consent_text = Spi::get_one::<pg_sys::Oid>("SELECT 'gdpr.consent_text'::regclass::oid")?
        .unwrap_or(pg_sys::Oid::INVALID);
    if is_extension_owner()? || has_privilege(consent_text, Privilege::Insert) {
        return Ok(());
    }
    Err(GdprError::InsufficientPrivilege(format!(
        "a consent requirement on {} needs the consent-administration grant (gdpr.grant_consent_administration)",
        table.display
    )))
}

/// The subject kind whose id `subject_col` of `table` holds: the column is the primary key of a declared
/// subject table, or references one's primary key through a FOREIGN KEY or declared link.
fn subject_kind_of(table: &Table, subject_col: &str) -> Result<String> {
    let col = introspect::column(table, subject_col)?;
    let subjects: Vec<(String, pg_sys::Oid)> = Spi::connect(|client| {
        let mut out = Vec::new();
        for r in client.select(
            "SELECT kind, tbl::oid FROM gdpr.subject ORDER BY kind",
            None,
            &[],
        )? {
            out.push((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
            ));
        }
        Ok::<_, GdprError>(out)
    })?;
    let primary_key = |oid: pg_sys::Oid| -> Result<Vec<String>> {
        Ok(introspect::primary_key(&introspect::table(oid)?)?
            .into_iter()
            .map(|c| c.name)
            .collect())
    };
    let own = vec![col.name.clone()];
    let references = graph::load_references()?;
    for (kind, subject_table) in &subjects {
        let is_key = *subject_table == table.oid && primary_key(table.oid)? == own;
        let reference = references.iter().find(|r| {
            r.child == table.oid
                && r.child_cols == own
                && r.parent == *subject_table
                && r.discriminator.is_none()
        });
        let references_key = match reference {
            Some(r) => r.parent_cols == primary_key(*subject_table)?,
            None => false,
        };
        if is_key || references_key {
            return Ok(kind.clone());
        }
    }
    Err(GdprError::InvalidDefinition(format!(
        "{}.{subject_col} is not the key of a declared subject nor a reference to one (a FOREIGN KEY or \
         gdpr.declare_link to a subject table's primary key): the consent's subject cannot be checked against it",
        table.display
    )))
}

pub fn require(
    oid: pg_sys::Oid,
    col: &str,
    purpose: Option<&str>,
    on_withdraw: &str,
    subject_col: Option<&str>,
) -> Result<()> {
    let table = introspect::table(oid)?;
    require_table_owner(&table)?;
    require_consent_administration(&table)?;
    let column = introspect::column(&table, col)?;
    if column.type_sql != "bigint" {
        return Err(GdprError::DatatypeMismatch(format!(
            "{}.{col} is {}: a consent reference must be bigint (it references gdpr.consent.id)",
            table.display, column.type_display
        )));
    }
    if let Some(p) = purpose {
        let valid = !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !p.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(GdprError::InvalidParameter(format!(
                "consent purpose \"{p}\" for {}.{col} must be a lower-case identifier such as marketing",
                table.display
            )));
        }
    }
    if !ON_WITHDRAW.contains(&on_withdraw) {
        return Err(GdprError::InvalidParameter(format!(
            "on_withdraw \"{on_withdraw}\" for {}.{col} must be one of: {}",
            table.display,
            ON_WITHDRAW.join(", ")
        )));
    }
    if on_withdraw == "anonymize" && introspect::primary_key(&table)?.is_empty() {
        return Err(GdprError::InvalidDefinition(format!(
            "{} has no primary key: on_withdraw => anonymize needs one to erase the rows collected under a consent",
            table.display
        )));
    }

    let subject_kind = match subject_col {
        Some(sc) => Some(subject_kind_of(&table, sc)?),
        None => None,
    };
    let subject_col = subject_col
        .map(|sc| introspect::column(&table, sc))
        .transpose()?;
    let subject_col = subject_col.map(|c| c.name);

    // Recreated every time: re-running the migration repairs a dropped or changed trigger.
    let trigger = trigger_name(col);
    drop_trigger_if_present(&table, &trigger)?;
    let (subject_name, kind) = (
        subject_col.as_deref().unwrap_or(""),
        subject_kind.as_deref().unwrap_or(""),
    );
    if subject_col.is_some() {
        ddl(
            "CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF %I, %I ON %s FOR EACH ROW \
             EXECUTE FUNCTION gdpr._require_consent(%L, %L, %L, %L)",
            &[
                &trigger,
                col,
                subject_name,
                &table.sql_name,
                col,
                purpose.unwrap_or(""),
                subject_name,
                kind,
            ],
        )?;
    } else {
        ddl(
            "CREATE TRIGGER %I BEFORE INSERT OR UPDATE OF %I ON %s FOR EACH ROW \
             EXECUTE FUNCTION gdpr._require_consent(%L, %L)",
            &[&trigger, col, &table.sql_name, col, purpose.unwrap_or("")],
        )?;
    }

    let previous = first_text(
        "SELECT fkey_name::text FROM gdpr.consent_requirement WHERE tbl = $1 AND col = $2",
        &[oid.into(), col.into()],
    )?;
    let fkey = match existing_fkey(&table, col)? {
        // Ours from an earlier call, or the application's own: either way one is enough.
        Some(name) => previous.filter(|p| *p == name),
        None => {
            let name = fkey_name(&table, col)?;
            ddl(
                "ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES gdpr.consent (id)",
                &[&table.sql_name, &name, col],
            )?;
            Some(name)
        }
    };

    // Stops at the first such row: the FOREIGN KEY above already read the whole table once.
    let missing = as_table_owner(&table, "checking existing rows of", || {
        Ok(Spi::get_one::<bool>(&format!(
            "SELECT EXISTS (SELECT 1 FROM {} WHERE {} IS NULL)",
            table.sql_name, column.sql_name
        ))?
        .unwrap_or(false))
    })?;
    if missing {
        warning!(
            "gdpr: existing rows of {} have no consent in {col}; the requirement applies to rows inserted or changed from now on",
            table.display
        );
    }

    as_extension_owner(|| {
        Spi::run_with_args(
            "INSERT INTO gdpr.consent_requirement
                    (tbl, col, purpose, on_withdraw, trigger_name, fkey_name, subject_col, subject_kind)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (tbl, col) DO UPDATE
                SET purpose = EXCLUDED.purpose, on_withdraw = EXCLUDED.on_withdraw,
                    trigger_name = EXCLUDED.trigger_name, fkey_name = EXCLUDED.fkey_name,
                    subject_col = EXCLUDED.subject_col, subject_kind = EXCLUDED.subject_kind,
                    declared_at = now()",
            &[
                oid.into(),
                col.into(),
                purpose.into(),
                on_withdraw.into(),
                trigger.as_str().into(),
                fkey.as_deref().into(),
                subject_col.as_deref().into(),
                subject_kind.as_deref().into(),
            ],
        )?;
        Ok(())
    })
}

pub fn drop(oid: pg_sys::Oid, col: &str) -> Result<()> {
    let table = introspect::table(oid)?;
    require_table_owner(&table)?;
    let row = Spi::connect(|client| {
        let mut found = None;
        for r in client.select(
            "SELECT trigger_name::text, fkey_name::text FROM gdpr.consent_requirement
              WHERE tbl = $1 AND col = $2",
            None,
            &[oid.into(), col.into()],
        )? {
            found = Some((r.get::<String>(1)?.unwrap_or_default(), r.get::<String>(2)?));
        }
        Ok::<_, GdprError>(found)
    })?;
    let Some((trigger, fkey)) = row else {
        return Err(GdprError::UndefinedObject(format!(
            "{}.{col} has no consent requirement",
            table.display
        )));
    };
    drop_trigger_if_present(&table, &trigger)?;
    // Only the foreign key require_consent added, and only if it still exists.
    if let Some(fkey) = fkey {
        if existing_fkey(&table, col)?.as_ref() == Some(&fkey) {
            ddl(
                "ALTER TABLE %s DROP CONSTRAINT %I",
                &[&table.sql_name, &fkey],
            )?;
        }
    }
    as_extension_owner(|| {
        Spi::run_with_args(
            "DELETE FROM gdpr.consent_requirement WHERE tbl = $1 AND col = $2",
            &[oid.into(), col.into()],
        )?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::trigger_name;

    #[test]
    fn trigger_names_fit_identifiers_on_character_boundaries() {
        assert_eq!(trigger_name("consent_id"), "gdpr_consent_consent_id");
        let long = trigger_name(&"č".repeat(40));
        assert!(long.len() <= 63 && long.starts_with("gdpr_consent_č"));
    }
}
