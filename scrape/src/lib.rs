//! placeholder
pub mod cache;
pub mod config;
pub mod error;
pub mod http;
pub mod manager;
pub mod parse;
pub mod pool;
pub mod relabel;
pub mod scrape_loop;
pub mod target;
pub mod target_labels;
