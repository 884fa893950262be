//! placeholder
pub mod parse;
pub mod config;
pub mod relabel;
pub mod target_labels;
