//! Green replacement for `std::net` and `std::os::unix::net`.
//!
//! Not implemented yet: this crate only reserves its place in the workspace.
//! Its sockets will be built on `green_core::io::GreenFd`, whose
//! try/wait/retry helper parks only the calling green thread.
#![forbid(unsafe_code)]
