//! Cancels and `statement_timeout` in loops over user data: every loop over values, characters or matches a
//! person's data can make long must let PostgreSQL stop it.

/// Lets a cancel or `statement_timeout` stop a loop over user data. (Plain unit tests run outside a backend.)
#[inline]
pub(crate) fn check_interrupts() {
    #[cfg(not(test))]
    pgrx::check_for_interrupts!();
}

/// Counts the steps of a loop over user data (identifiers, characters, matches, json tokens) and looks for a
/// cancel every few thousand: often enough to stop within milliseconds, rarely enough to cost nothing.
#[derive(Default)]
pub(crate) struct Steps(usize);

impl Steps {
    #[inline]
    pub(crate) fn step(&mut self) {
        self.0 += 1;
        if self.0.is_multiple_of(4096) {
            check_interrupts();
        }
    }
}
