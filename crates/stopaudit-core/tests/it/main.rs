//! The core's tests against independent references (scipy/statsmodels and
//! astronomical tables), in one binary; `cargo test -p stopaudit-core` runs
//! them without building polars.

mod glm_reference;
mod layers;
mod statistics_reference;
mod sun;

/// A path in the project's root folder (the fixtures are shared with the
/// binary's tests).
pub fn project(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}
