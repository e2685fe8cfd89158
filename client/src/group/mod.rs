//! Consumer groups (classic protocol).
pub mod assignor;
pub(crate) mod classic;
pub(crate) mod io;
