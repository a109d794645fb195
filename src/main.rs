//! camvault: keeps every security-camera recording forever, and proves nothing was lost.
//!
//! Data flow (see DESIGN.md): `inbox` (watch, settle) → `capture` (vault link + catalog
//! row) → `upload` (store, verify) → `cache` (purge verified local copies). `catalog` is
//! the single source of truth; `store` holds the backends; `samba` is the share the
//! camera writes to; `cli` is the surface.

mod alerts;
mod backup;
mod cache;
mod capture;
mod catalog;
mod cli;
mod clock;
mod config;
mod cost;
mod health;
mod inbox;
mod keys;
mod ledger;
mod manifest;
mod metrics;
mod report;
mod restore;
mod samba;
mod selfwatch;
mod store;
mod tiers;
mod upload;
mod verify;
mod web;

fn main() -> std::process::ExitCode {
    cli::main()
}
