//! The `camvault` binary: process-wide set-up, then the CLI in the library (`src/lib.rs`).

fn main() -> std::process::ExitCode {
    few_malloc_arenas();
    // Footage, catalog and restores are for the service user only (issue 13, finding 10).
    camvault::modes::restrict_umask();
    camvault::cli::main()
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
