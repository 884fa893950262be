//! Strict (specification) checks layered over the Prometheus-compatible parsers.
