//! One error enum for the core; `bindings/mod.rs` maps each variant to a Python exception.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// The caller passed arrays or parameters that cannot be used (lengths, ranges, NaN).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A venue message could not be parsed (malformed JSON, wrong types, missing fields).
    #[error("malformed message: {0}")]
    Malformed(String),
}

pub type CoreResult<T> = Result<T, CoreError>;
