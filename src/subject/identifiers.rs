//! The subject's identifiers: every value of their declared PII columns as found before an erasure, with its
//! placeholder kind. What `scrub` removes from the subject's free text and what `gdpr.locate` looks for in
//! declared trace columns.

use std::collections::HashSet;

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use super::plan::{ErasurePlan, IdentifierColumn, TEXT_ARRAY};
use super::reach::{fetch, Reach};
use crate::error::Result;
use crate::strategy::{self, SubjectIdentifiers};

/// Collects the subject's identifiers for `scrub`, without duplicates.
struct Collector {
    ids: SubjectIdentifiers,
    seen: HashSet<String>,
    /// How many of `ids` come from the reached rows (the rest from the rows the subject's row references).
    reached: usize,
}

/// The subject's identifiers: all of them (what `scrub` removes from the subject's own rows), and those read
/// from the reached rows only — what is looked for in other people's rows (trace columns): a session's guest's
/// or operator's name, read from the rows the session references, is not the session's to erase elsewhere.
pub struct Identifiers {
    pub all: SubjectIdentifiers,
    pub reached: SubjectIdentifiers,
}

impl Collector {
    fn finish(self) -> Identifiers {
        let reached = SubjectIdentifiers {
            values: self.ids.values[..self.reached].to_vec(),
            kinds: self.ids.kinds[..self.reached].to_vec(),
        };
        Identifiers {
            all: self.ids,
            reached,
        }
    }
}

impl Collector {
    fn add(&mut self, value: String, kind: &str) {
        if !value.trim().is_empty() && self.seen.insert(value.clone()) {
            self.ids.values.push(value);
            self.ids.kinds.push(kind.to_string());
        }
    }

    /// A first and a last name kept in two columns are one name too ("Jana Nováková"): what a person writes,
    /// and what `gdpr.locate` needs (it looks for names of two words or more).
    fn add_full_name<'a>(
        &mut self,
        columns: impl Iterator<Item = (&'a IdentifierColumn, &'a Option<String>)>,
    ) {
        let parts: Vec<&str> = columns
            .filter(|(c, _)| c.kind == "name" && !c.json)
            .filter_map(|(_, v)| v.as_deref().map(str::trim).filter(|v| !v.is_empty()))
            .collect();
        if parts.len() > 1 {
            self.add(parts.join(" "), "name");
        }
    }

    /// A column's text; for json columns every string inside (but those a `jsonb` policy keeps), typed by
    /// its key when the key says more ("address", "email") than the column's name.
    fn add_column(&mut self, text: &str, column: &IdentifierColumn) -> Result<()> {
        if !column.json {
            self.add(text.to_string(), column.kind);
            return Ok(());
        }
        // Any depth; a value that cannot be read is an error, never a silently shorter list of identifiers.
        for (s, key) in strategy::jsonb::string_leaves(text, column.jsonb_rules.as_ref())? {
            let by_key = key.map_or("redacted", |k| strategy::identifier_kind("", &k));
            self.add(
                s,
                if by_key == "redacted" {
                    column.kind
                } else {
                    by_key
                },
            );
        }
        Ok(())
    }
}

/// Every value of the subject's declared PII columns as found before the erasure — in the rows reached and in
/// the rows the subject's own row references (a session's guest) — for `scrub`.
pub fn subject_identifiers(
    client: &mut SpiClient<'_>,
    plan: &ErasurePlan,
    reach: &[Reach],
) -> Result<Identifiers> {
    let mut found = Collector {
        ids: SubjectIdentifiers::default(),
        seen: HashSet::new(),
        reached: 0,
    };
    if !plan.needs_identifiers {
        return Ok(found.finish());
    }
    for (table, r) in plan.tables.iter().zip(reach) {
        for row in &r.rows {
            check_for_interrupts!();
            for column in &table.identifier_columns {
                if let Some(text) = &row[column.position + 2] {
                    found.add_column(text, column)?;
                }
            }
            found.add_full_name(
                table
                    .identifier_columns
                    .iter()
                    .map(|c| (c, &row[c.position + 2])),
            );
        }
    }
    found.reached = found.ids.values.len();
    for source in &plan.identifier_sources {
        let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); source.root_values.len()];
        for row in &reach[0].rows {
            for (c, pos) in columns.iter_mut().zip(&source.root_values) {
                c.push(row[pos + 2].clone());
            }
        }
        let types = vec![TEXT_ARRAY; columns.len()];
        let args: Vec<DatumWithOid<'_>> = columns.into_iter().map(Into::into).collect();
        for row in fetch(client, &source.table, &source.select, &types, &args)? {
            for column in &source.columns {
                if let Some(text) = &row[column.position] {
                    found.add_column(text, column)?;
                }
            }
            found.add_full_name(source.columns.iter().map(|c| (c, &row[c.position])));
        }
    }
    Ok(found.finish())
}
