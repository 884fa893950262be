//! Benchmarks live in `benches/`; this library only shares load generators between them.
