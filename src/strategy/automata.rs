//! Aho-Corasick automata over many needles, built in linear time whatever the needles: one automaton over
//! 400,000 identifiers took 45 s to build, in one call that no cancel could stop (its sparse states scatter over
//! hundreds of megabytes). Sorted needles — those sharing a prefix share states — go into automata of bounded
//! size, which build in cache (1M identifiers in about 2 s), with a look for a cancel between two.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::error::{GdprError, Result};
use crate::interrupts::{check_interrupts, Steps};

/// Needle bytes per automaton.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Needles longer than this are better searched for one by one: an automaton would spend a state of tens of
/// bytes on each of their bytes.
pub(crate) const LITERAL_BYTES: usize = 64 * 1024;

/// Automata over consecutive runs of `sorted` needles (sorted, non-empty, at most `LITERAL_BYTES` each), each
/// with the tags of its patterns in pattern order. `what` names the matcher in errors.
pub(crate) fn chunked<T: Copy>(
    sorted: &[(&str, T)],
    match_kind: MatchKind,
    steps: &mut Steps,
    what: &str,
) -> Result<Vec<(AhoCorasick, Vec<T>)>> {
    let mut automata = Vec::new();
    let mut rest = sorted;
    while !rest.is_empty() {
        check_interrupts();
        let mut taken = 0;
        let mut size = 0;
        while taken < rest.len() && size < CHUNK_BYTES {
            steps.step();
            size += rest[taken].0.len();
            taken += 1;
        }
        let (chunk, tail) = rest.split_at(taken);
        rest = tail;
        // A subject's few needles fit one automaton, used as built; several are compacted, which costs a
        // (linear) conversion but keeps the searches in cache.
        let kind = if automata.is_empty() && rest.is_empty() {
            AhoCorasickKind::NoncontiguousNFA
        } else {
            AhoCorasickKind::ContiguousNFA
        };
        let automaton = AhoCorasick::builder()
            .match_kind(match_kind)
            .kind(Some(kind))
            .build(chunk.iter().map(|(n, _)| n))
            .map_err(|e| {
                GdprError::InvalidParameter(format!(
                    "{what}: cannot build the matcher for {} needles: {e}",
                    chunk.len()
                ))
            })?;
        automata.push((automaton, chunk.iter().map(|(_, tag)| *tag).collect()));
    }
    Ok(automata)
}
