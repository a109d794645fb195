//! camvault: keeps every security-camera recording forever, and proves nothing was lost.
//!
//! Data flow (see DESIGN.md): `inbox` (watch, settle) → `capture` (vault link + catalog
//! row) → `upload` (store, verify) → `cache` (purge verified local copies). `catalog` is
//! the single source of truth; `store` holds the backends; `samba` is the share the
//! camera writes to; `cli` is the surface.
//!
//! The library holds every module so that logic can be tested in-process
//! (`tests/*.rs` use `camvault::…`); `src/main.rs` is only the process set-up.

pub mod alerts;
pub mod backup;
pub mod beneath;
pub mod cache;
pub mod capture;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cost;
pub mod coverage;
#[cfg(test)]
pub mod fuzz;
pub mod health;
pub mod inbox;
pub mod index;
pub mod keys;
pub mod ledger;
pub mod manifest;
pub mod media;
pub mod metrics;
pub mod miio;
pub mod mirror;
pub mod modes;
pub mod msg;
pub mod recordings;
pub mod report;
pub mod restore;
pub mod samba;
pub mod selfwatch;
pub mod store;
pub mod tiers;
pub mod upload;
pub mod verify;
pub mod web;
pub mod workers;
