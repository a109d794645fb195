//! Footage old enough for the archive classes, for the restore tests (tests/restore.rs,
//! tests/mirrors_restore.rs): clips of 40 days ago on the `fs` store, whose clock the tests
//! move, with restores polled every second.
#![allow(dead_code)]

use super::*;

pub const DAY: i64 = 86_400;

/// Moves the `fs` store's clock to `secs` ahead of the real time.
pub fn set_store_clock(env: &Env, secs: i64) {
    let p = env.store().join(".camvault/clock");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, secs.to_string()).unwrap();
}

/// The `fs` store's metadata of `key` (class, restore requests, …).
pub fn store_meta(env: &Env, key: &str) -> serde_json::Value {
    let p = env.store().join(".camvault/meta").join(format!("{key}.json"));
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// A command's `--json` output.
pub fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = env.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

/// A site whose restores poll every second (a Standard restore on the `fs` store takes a
/// second of its clock) and `n` clips of 40 days ago in its inbox, not ingested yet: clip
/// `i` is `size + i * 1000` bytes from seed `seed + i`. Returns the clips (inbox path,
/// bytes) and their first start time, Unix seconds.
pub fn old_clips(edits: &str, n: usize, seed: u64, size: usize) -> (Env, Vec<(String, Vec<u8>)>, i64) {
    let env = Env::new(
        1,
        &format!("restore.poll_secs = 1\nrestore.poll_max_secs = 1\nstore.fs.restore_standard_secs = 1\n{edits}"),
    );
    let t0 = now_unix() - 40 * DAY;
    let mut clips = Vec::new();
    for i in 0..n {
        let data = bytes(seed + i as u64, size + i * 1000);
        env.put_old(&old_clip(t0 + i as i64 * 60), &data);
        clips.push((old_clip(t0 + i as i64 * 60), data));
    }
    (env, clips, t0)
}
