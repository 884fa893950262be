//! placeholder
pub mod config;
pub mod relabel;
