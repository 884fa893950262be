//! Remote write: the receiver of Prometheus' remote-write 1.0 protocol.
//! (The sender and remote read come later.)

pub mod batch;
pub mod proto;
pub mod series_cache;
pub mod wire;
pub mod write;
