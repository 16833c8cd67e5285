//! Finds a subject's identifiers in free text the way people and systems write them (trace columns).
// TEMP stub (replaced by the matcher branch).
use crate::error::Result;
use crate::strategy::SubjectIdentifiers;
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub category: &'static str,
}
pub struct TraceMatcher;
impl TraceMatcher {
    pub fn new(_ids: &SubjectIdentifiers, _cc: &str) -> Result<TraceMatcher> {
        Ok(TraceMatcher)
    }
    pub fn is_empty(&self) -> bool {
        true
    }
    pub fn find(&self, _text: &str) -> Vec<Span> {
        Vec::new()
    }
    pub fn replace(&self, _text: &str) -> Option<String> {
        None
    }
    pub fn categories(&self, _text: &str) -> Vec<&'static str> {
        Vec::new()
    }
    pub fn prefilter(&self) -> Option<String> {
        None
    }
}
