//! Shared helpers for the end-to-end tests in this crate.

pub mod crash;
