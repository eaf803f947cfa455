//! Emitting: the plan and the model to the files an administrator applies. Every function
//! here is pure: it returns (path, text) pairs; the CLI writes them. Output is
//! deterministic: no timestamps, no hash-map order.

pub mod gridd;
pub mod runbook;
pub mod servers;
pub mod vmx;
