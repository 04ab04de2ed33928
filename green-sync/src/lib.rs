//! Green replacement for `std::sync`.
//!
//! Not implemented yet: this crate only reserves its place in the workspace.
//! Its locks, condvars and channels will park through `green_core::park`.
#![forbid(unsafe_code)]
