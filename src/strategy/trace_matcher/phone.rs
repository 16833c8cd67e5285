//! Phone numbers in free text: runs of digit groups however they are separated, each window of whole groups
//! compared with the subject's numbers by its international form.

use super::{Span, TraceMatcher};
use crate::interrupts::Steps;
use crate::normalize;

/// A phone number with fewer digits than this (as written within its country) would match everywhere.
pub(super) const MIN_PHONE_DIGITS: usize = 6;

/// At most this many digit groups make one phone number ("+420 600 31 67 60" has five).
const MAX_PHONE_GROUPS: usize = 8;

impl TraceMatcher {
    /// Phone numbers: runs of digit groups in the original text, each window of whole groups compared by its
    /// international form; from each group the longest matching window wins.
    pub(super) fn phone_spans(&self, text: &str, steps: &mut Steps) -> Vec<Span> {
        let mut spans = Vec::new();
        if self.phones.is_empty() {
            return spans;
        }
        let bytes = text.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            steps.step();
            if !bytes[at].is_ascii_digit() {
                at += 1;
                continue;
            }
            let run = digit_groups(bytes, at, steps);
            at = run.groups.last().map_or(at + 1, |g| g.1);
            self.match_windows(text, &run, steps, &mut spans);
        }
        spans
    }

    /// The leftmost-longest windows of `run` that are one of the subject's phone numbers.
    fn match_windows(&self, text: &str, run: &DigitRun, steps: &mut Steps, spans: &mut Vec<Span>) {
        let groups = &run.groups;
        // "+48 600 316 760" is a Polish number, not the Czech 600 316 760: an international run is one number.
        let first_groups = if run.is_international(text.as_bytes()) {
            1
        } else {
            groups.len()
        };
        let mut first = 0;
        while first < first_groups {
            let start = match run.plus {
                Some(plus) if first == 0 => plus,
                _ => groups[first].0,
            };
            let mut digits = 0;
            let mut longest = None;
            for (last, &(group_start, group_end)) in
                groups.iter().enumerate().skip(first).take(MAX_PHONE_GROUPS)
            {
                steps.step();
                digits += group_end - group_start;
                // The longest window could still match with a "00" prefix dropped.
                if digits > self.longest_phone + 2 {
                    break;
                }
                let window = &text[start..group_end];
                if normalize::phone(window, &self.country_code)
                    .is_some_and(|n| self.phones.contains(&n))
                {
                    longest = Some(last);
                }
            }
            let Some(last) = longest else {
                first += 1;
                continue;
            };
            let (start, end) = with_enclosing_parentheses(text.as_bytes(), start, groups[last].1);
            spans.push(Span {
                start,
                end,
                category: "phone",
            });
            first = last + 1;
        }
    }
}

/// A run of digit groups separated by single separators, as phone numbers are written.
struct DigitRun {
    /// Where the run's '+' is, if it has one.
    plus: Option<usize>,
    /// Each group's byte range.
    groups: Vec<(usize, usize)>,
}

impl DigitRun {
    /// Written with "+" or "00": the run starts with the country code.
    fn is_international(&self, bytes: &[u8]) -> bool {
        self.plus.is_some() || bytes[self.groups[0].0..].starts_with(b"00")
    }
}

/// What may separate two digit groups of one phone number: one of " -./" and parentheses, 3 bytes at most.
fn separator_len(bytes: &[u8]) -> Option<usize> {
    let mut plain = 0;
    for (len, b) in bytes.iter().take(4).enumerate() {
        match b {
            b'0'..=b'9' if len > 0 && plain <= 1 => return Some(len),
            b' ' | b'-' | b'.' | b'/' if len < 3 => plain += 1,
            b'(' | b')' if len < 3 => {}
            _ => return None,
        }
    }
    None
}

/// The run of digit groups that starts at `start` (a digit not preceded by one).
fn digit_groups(bytes: &[u8], start: usize, steps: &mut Steps) -> DigitRun {
    let plus = match bytes[..start] {
        [.., b'+'] => Some(start - 1),
        [.., b'+', b'('] => Some(start - 2),
        _ => None,
    };
    let mut groups = Vec::new();
    let mut at = start;
    loop {
        let group_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            steps.step();
            at += 1;
        }
        groups.push((group_start, at));
        match separator_len(&bytes[at..]) {
            Some(len) => at += len,
            None => break,
        }
    }
    DigitRun { plus, groups }
}

/// The window with the parenthesis before or after it when the window closes or opens it ("(600)316-760").
fn with_enclosing_parentheses(bytes: &[u8], start: usize, end: usize) -> (usize, usize) {
    let (mut depth, mut lowest) = (0i32, 0i32);
    for b in &bytes[start..end] {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ => {}
        }
        lowest = lowest.min(depth);
    }
    let start = if lowest < 0 && start > 0 && bytes[start - 1] == b'(' {
        start - 1
    } else {
        start
    };
    let end = if depth > lowest && bytes.get(end) == Some(&b')') {
        end + 1
    } else {
        end
    };
    (start, end)
}

/// How many of a phone number's last digits every written form of it shows: the national form omits the
/// country code.
pub(super) fn written_digits(international: &str, country_code: &str) -> usize {
    international
        .strip_prefix(country_code)
        .unwrap_or(international)
        .len()
}
