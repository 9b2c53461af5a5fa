//! How durable a commit must be before it returns.

/// How durable a commit is when it returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Durability {
    /// The commit is on stable storage when it returns: exactly one `fdatasync` of the log.
    #[default]
    Immediate,
    /// Nothing is synced: a crash may lose the commit (and later ones), but never leaves a
    /// partial transaction visible.
    None,
}
