//! Finds a subject's identifiers in free text the way people and systems write them (trace columns).
