use std::path::PathBuf;

/// Everything the store can fail with. Each message is complete on its own
/// (database path, what was being done, SQLite's or serde's cause) because
/// operators read it in a log line; the cause is a public field rather than
/// `source()` so that `{:#}` chains do not print it twice.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("opening {}: {cause}", path.display())]
    Open {
        path: PathBuf,
        cause: rusqlite::Error,
    },

    #[error(
        "{} has schema version {found}, but this lnpolicy knows only up to version {known} ({latest_file}); \
         it was written by a newer lnpolicy: upgrade, or use another database",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: u32,
        known: u32,
        latest_file: &'static str,
    },

    #[error(
        "{} has schema version {found}, older than this lnpolicy's {known}: reports do not \
         change a database; run the daemon or `lnpolicy -c` of this version once to upgrade it",
        path.display()
    )]
    TooOld {
        path: PathBuf,
        found: u32,
        known: u32,
    },

    #[error("migrating {} to version {version} ({file}): {cause}", path.display())]
    Migrate {
        path: PathBuf,
        version: u32,
        file: &'static str,
        cause: rusqlite::Error,
    },

    #[error("{op} in {}: {cause}", path.display())]
    Sql {
        path: PathBuf,
        op: &'static str,
        cause: rusqlite::Error,
    },

    #[error("{what} in {}: {cause}", path.display())]
    Json {
        path: PathBuf,
        what: String,
        cause: serde_json::Error,
    },

    /// A stored value this binary cannot read, or a request the schema forbids.
    #[error("{what} in {}", path.display())]
    Invalid { path: PathBuf, what: String },
    #[error("copying a snapshot of {} to {}: {cause}", source_path.display(), dest.display())]
    Snapshot {
        source_path: PathBuf,
        dest: PathBuf,
        cause: String,
    },

    /// The database holds another node's history: its cursors would read nothing from this
    /// node, and every channel would look idle.
    #[error(
        "{} holds the history of {stored}, but the node is {node}: give each node its own \
         database (--db), or move this one aside to start afresh",
        path.display()
    )]
    OtherNode {
        path: PathBuf,
        stored: String,
        node: String,
    },

    #[error("integrity check of {} failed: {report}", path.display())]
    Integrity { path: PathBuf, report: String },

    /// Resolving an intent twice would overwrite the outcome recovery relies on.
    #[error("cannot resolve update intent {id} in {}: {state}", path.display())]
    IntentNotPending {
        path: PathBuf,
        id: i64,
        state: String,
    },

    /// Finishing a cycle twice would overwrite how it really ended.
    #[error("cannot finish cycle {id} in {}: {state}", path.display())]
    CycleNotOpen {
        path: PathBuf,
        id: i64,
        state: String,
    },
}
