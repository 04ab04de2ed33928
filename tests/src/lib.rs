//! Shared helpers for the conformance tests in `tests/tests/`.
