//! Networking: one [`conn::Connection`] per broker and lane, the pool that
//! owns them, and the version table each broker advertises.

pub(crate) mod conn;
pub(crate) mod pool;
pub(crate) mod versions;
