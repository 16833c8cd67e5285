//! A person's request: find them by what they gave, export everything held about them, locate the traces no
//! key links to them.

pub mod matcher;
