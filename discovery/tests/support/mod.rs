//! The fake API server lives in the crate (feature `test-support`) so
//! benches and other crates' tests can reuse it.

pub(crate) use promethium_discovery::kubernetes::testing::FakeApiServer;
