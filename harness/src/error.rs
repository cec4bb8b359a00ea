//! Errors shared by every stage: how an error and its causes read as one
//! line, and the typed error of a run, whose kind picks the exit code
//! (`exit::of_error`).

/// Any error, kept as the cause of a [`RunError`].
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// The error and its causes, `: `-joined.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Why a command ended with something other than verdicts alone.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A case, a flag or a file given is wrong: nothing was judged.
    #[error(transparent)]
    Input(Cause),
    /// The backend cannot run here, or could not build its world: nothing
    /// was judged. The cause says what is missing and how to fix it.
    #[error(transparent)]
    Prerequisite(Cause),
    /// The world or the backend failed after judging started (a step that
    /// could not change or probe the world, a world that could not be reset);
    /// the results hold every case judged until then.
    #[error("the backend failed during the run (the results hold what was judged)")]
    Backend(#[source] Cause),
    /// Every case was judged and written, but removing the world failed.
    #[error("cleanup incomplete (`netpol cleanup` removes what a run left)")]
    Cleanup(#[source] Cause),
}

impl RunError {
    /// A bad input, from a message.
    pub fn input(message: impl Into<String>) -> RunError {
        RunError::Input(message.into().into())
    }
}
