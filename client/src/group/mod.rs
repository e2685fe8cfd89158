//! Consumer groups (classic protocol).
pub mod assignor;
