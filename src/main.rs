//! camvault: keeps every security-camera recording forever, and proves nothing was lost.
//!
//! Data flow (see DESIGN.md): `inbox` (watch, settle) → `capture` (vault link + catalog
//! row) → `upload` (store, verify) → `cache` (purge verified local copies). `catalog` is
//! the single source of truth; `store` holds the backends; `samba` is the share the
//! camera writes to; `cli` is the surface.

mod alerts;
mod backup;
mod beneath;
mod cache;
mod capture;
mod catalog;
mod cli;
mod clock;
mod config;
mod cost;
mod coverage;
#[cfg(test)]
mod fuzz;
mod health;
mod inbox;
mod keys;
mod ledger;
mod manifest;
mod metrics;
mod modes;
mod recordings;
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
    few_malloc_arenas();
    // Footage, catalog and restores are for the service user only (issue 13, finding 10).
    modes::restrict_umask();
    cli::main()
}

/// glibc gives each thread that allocates its own malloc arena (up to 8 per core), and
/// memory freed in one is not reused by another: `serve`, with its tokio workers and
/// blocking threads, sat at ~57 MiB RSS in the soak where two arenas hold ~25 MiB, flat
/// (docs/benchmarks.md, soak). Must run before any thread starts; `MALLOC_ARENA_MAX` in
/// the environment still wins (glibc reads it at the first allocation).
fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only changes allocator settings; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
