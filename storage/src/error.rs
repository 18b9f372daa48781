//! The one error type of the storage crate boundary.

/// Everything a [`Store`](crate::Store) or the [`GroupCommit`](crate::GroupCommit) can
/// report.
///
/// It is `Clone` because one flush result is handed to every writer that shared the
/// flush; the underlying I/O and sled errors are therefore carried as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The operating system refused a read, write, fsync or lock.
    #[error("storage i/o error: {0}")]
    Io(String),
    /// sled reported an error that is not plain I/O (corruption it detected itself,
    /// an unsupported configuration, a bug).
    #[error("sled error: {0}")]
    Sled(String),
    /// A stored key or value could not be decoded although its version is known.
    #[error("corrupt record in tree `{tree}` at key {key}: {reason}")]
    Corrupt {
        /// Tree (one per entity) the record was read from.
        tree: &'static str,
        /// The key, rendered for humans (driver id or event sequence number).
        key: String,
        /// What the decoder did not like.
        reason: String,
    },
    /// A stored value starts with a version byte this build does not know: the data was
    /// written by a newer build. Refusing is safer than guessing.
    #[error("unknown record version {version} in tree `{tree}`")]
    UnknownVersion {
        /// Tree the record was read from.
        tree: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// Verification at open found the store damaged or behind what it had made
    /// durable: starting on it would serve with acknowledged data missing.
    #[error("the store at {dir} is damaged: {reason}")]
    Damaged {
        /// The database directory.
        dir: String,
        /// What verification found.
        reason: String,
    },
    /// Another process holds the database (its file lock): one engine per data dir.
    #[error("the store at {dir} is in use by another process (is another `dispatch serve` running on this data dir?)")]
    Locked {
        /// The database directory.
        dir: String,
    },
    /// The store or the group committer was shut down; nothing more will be made durable.
    #[error("store closed")]
    Closed,
}
