//! Green replacement for `std::fs`.
//!
//! Not implemented yet: this crate only reserves its place in the workspace.
//! Its file operations will run through `green_core::unblock`.
#![forbid(unsafe_code)]
