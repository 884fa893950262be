//! The Promethium storage engine.
//!
//! It owns the data model ([`model`]: labels, samples, matchers), the write
//! path ([`Appendable`]/[`Appender`]) and the read path
//! ([`Queryable`]/[`Querier`]), and the storage behind them: Gorilla chunks,
//! the in-memory head, the write-ahead log and, later, immutable blocks.
//!
//! Invariant: this crate depends on no other Promethium crate. Scraping and
//! PromQL reach storage only through the two traits, so the engine's
//! internals can change without touching them.
//!
//! ```
//! use promethium_engine::{Appendable, Queryable, MemStorage};
//! use promethium_engine::model::{Labels, Matcher};
//!
//! let db = MemStorage::new();
//! let series = Labels::new([("__name__", "up"), ("job", "node")]);
//! let mut batch = db.appender();
//! batch.append(None, &series, 1_000, 1.0).unwrap();
//! batch.commit().unwrap();
//!
//! let querier = db.querier(0, 2_000).unwrap();
//! let found = querier.select(&[Matcher::equal("job", "node")], None).unwrap();
//! assert_eq!(found.len(), 1);
//! ```

pub mod append;
pub mod block;
pub mod chunk;
pub mod compact;
pub mod db;
pub mod error;
pub mod head;
pub mod memory;
pub mod model;
pub mod query;
pub mod retention;
pub mod wal;

pub use append::{AppendOptions, Appendable, Appender};
pub use db::{Db, DbOptions};
pub use error::{AppendError, CommitError, QueryError};
pub use memory::MemStorage;
pub use query::{
    Querier, Queryable, SampleIterator, SelectHints, Series, SeriesSet, SliceIterator,
};
