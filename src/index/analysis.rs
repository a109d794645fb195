//! Motion analysis of one clip: grey, scaled-down frames in, activity per second and
//! activity segments out. Pure computation (the frames come from `decode.rs`), so every
//! rule here is tested on synthetic frames as well as on real ffmpeg output.
//!
//! The model, and why each part is there:
//! - A per-pixel **background** (running average). A pixel differs when it is further from
//!   the background than four times the frame's noise level, measured per frame as the
//!   median absolute deviation: sensor noise and compression flicker raise the threshold
//!   instead of turning into activity.
//! - Each frame is first fitted to the background by **gain and offset**: auto exposure
//!   and slow light change (dawn, clouds) move every pixel together and are taken out
//!   before pixels are compared. The fit is robust (`fit`): a gain only where the
//!   background has contrast over most of the picture (a flat wall has none, and its only
//!   contrast would be the moving object), refitted without the worst-fitting fifth.
//! - A **global jump** — the fit's gain or offset far from 1/0, or most of the picture
//!   changed at once — is the camera switching to infrared at dusk (or back), or a light
//!   turned on: the background is re-based on the new frame and the next second is a
//!   warm-up, not activity.
//! - A **cell** (grid of `COLS`×`ROWS`) is active when enough of its pixels differ, and
//!   only counts when it, or a neighbour, was also active in the previous frame: one-frame
//!   flashes (a compression artefact, an insect in the IR light) do not make segments.
//! - A cell is **live** when a pixel in it or a neighbour *moves*: differs from the
//!   background, changed since the previous frame, and away from the background. Only live
//!   cells are activity. A cell that differs but stands still — the ghost an object leaves
//!   in the background, a parked car — is not, and the frame an object leaves in moves back
//!   towards the background, so a segment ends with the object, not with its ghost.
//! - The background follows the picture quickly where nothing moves (ghosts included) and
//!   slowly under live cells, so a car that parks becomes background within seconds.

use super::zones::CellSet;

/// The analysis picture: frames are scaled to this size by ffmpeg.
pub const WIDTH: usize = 160;
pub const HEIGHT: usize = 90;
/// The grid motion is counted on (cells of 10×10 pixels of the analysis picture).
pub const COLS: usize = 16;
pub const ROWS: usize = 9;
const CELL_W: usize = WIDTH / COLS;
const CELL_H: usize = HEIGHT / ROWS;
/// Moving pixels that make a cell *move* (see `Analyzer::push`).
const MOVE_MIN: u32 = 2;

/// Tunables (the defaults are what the benchmark measured; see docs/benchmarks.md).
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Frames analysed per second of video.
    pub fps: u32,
    /// A pixel differs at `k_noise` × the noise level ...
    pub k_noise: f32,
    /// ... and never below this many grey levels.
    pub min_diff: f32,
    /// A cell is active when this fraction of its pixels differ.
    pub cell_fraction: f32,
    /// Gaps of up to this many quiet seconds join two active stretches into one segment.
    pub join_gap_s: u32,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            fps: 4,
            k_noise: 4.0,
            min_diff: 14.0,
            cell_fraction: 0.06,
            join_gap_s: 2,
        }
    }
}

/// One stretch of activity inside a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Offsets from the start of the clip, whole seconds: `[start_s, end_s)`.
    pub start_s: u32,
    pub end_s: u32,
    /// The most cells active in one frame, as a percentage of the grid.
    pub peak: u8,
    /// The second of the peak (where the representative frame is taken).
    pub peak_s: u32,
    /// Every cell that was active during the segment.
    pub cells: CellSet,
}

/// What the analysis of a whole clip found.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    /// Per second of video: the most cells active in one of its frames, in percent.
    pub activity: Vec<u8>,
    pub segments: Vec<Segment>,
    pub frames: u32,
    /// Seconds at which the background was re-based (IR switch, light on/off).
    pub rebases: Vec<u32>,
}

/// The running analysis; feed it every frame in order, then `finish`.
pub struct Analyzer {
    p: Params,
    bg: Vec<f32>,
    /// The previous (blurred) frame: what moved since.
    prev: Vec<f32>,
    blurred: Vec<f32>,
    frame_no: u32,
    /// Frames left in the warm-up after a re-base.
    warmup: u32,
    prev_active: CellSet,
    /// Per second: most active cells in a frame, and those cells.
    per_second: Vec<(u8, CellSet)>,
    rebases: Vec<u32>,
}

impl Analyzer {
    pub fn new(p: Params) -> Analyzer {
        Analyzer {
            p: Params { fps: p.fps.max(1), ..p },
            bg: Vec::new(),
            prev: Vec::new(),
            blurred: vec![0.0; WIDTH * HEIGHT],
            frame_no: 0,
            warmup: 0,
            prev_active: CellSet::default(),
            per_second: Vec::new(),
            rebases: Vec::new(),
        }
    }

    /// One grey frame of `WIDTH`×`HEIGHT` bytes.
    pub fn push(&mut self, frame: &[u8]) {
        debug_assert_eq!(frame.len(), WIDTH * HEIGHT);
        let second = (self.frame_no / self.p.fps) as usize;
        self.frame_no += 1;
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, (0, CellSet::default()));
        }
        blur(frame, &mut self.blurred);
        let f = &self.blurred;
        if self.bg.is_empty() {
            self.bg = f.clone();
            self.prev = f.clone();
            return;
        }
        let (gain, offset) = fit(&self.bg, f);
        let n = f.len() as f32;
        let (mb, mf) = (self.bg.iter().sum::<f32>() / n, f.iter().sum::<f32>() / n);
        let mut resid: Vec<f32> = self.bg.iter().zip(f).map(|(b, v)| v - (gain * b + offset)).collect();
        // The noise level: median absolute residual (robust to the moving object itself).
        // A flat, clean picture has a MAD of 0: then `min_diff` alone is the threshold.
        let mad = median(resid.iter().map(|r| r.abs()).collect());
        let thresh = (self.p.k_noise * 1.4826 * mad).max(self.p.min_diff);
        // A pixel *moves* when it differs from the background, changed since the previous
        // frame, and moved away from the background rather than back towards it: the
        // leading edge of something moving. What the background model left behind where an
        // object was (a ghost, or a parked car) differs from the background but does not
        // move, and the frame an object leaves in moves back towards the background.
        let mut moving = vec![false; f.len()];
        for (i, r) in resid.iter_mut().enumerate() {
            let differs = r.abs() > thresh;
            if differs {
                let b = gain * self.bg[i] + offset;
                moving[i] = (f[i] - self.prev[i]).abs() > thresh && (f[i] - b).abs() > (self.prev[i] - b).abs();
            }
            *r = if differs { 1.0 } else { 0.0 };
        }
        let changed = resid.iter().sum::<f32>() / n;
        let jump = (gain - 1.0).abs() > 0.25 || (mf - mb).abs() > 30.0 || changed > 0.5;
        if jump {
            // IR switch or light: a new background, and a second to settle.
            self.bg.copy_from_slice(f);
            self.prev.copy_from_slice(f);
            self.warmup = self.p.fps;
            self.prev_active = CellSet::default();
            self.rebases.push(second as u32);
            return;
        }
        self.prev.copy_from_slice(f);
        // Cells with enough differing pixels, and cells with pixels that move.
        let need = ((CELL_W * CELL_H) as f32 * self.p.cell_fraction).max(3.0);
        let mut active = CellSet::default();
        let mut moves = CellSet::default();
        for r in 0..ROWS {
            for c in 0..COLS {
                let (mut cnt, mut mv) = (0.0, 0u32);
                for y in r * CELL_H..(r + 1) * CELL_H {
                    let at = y * WIDTH + c * CELL_W..y * WIDTH + (c + 1) * CELL_W;
                    cnt += resid[at.clone()].iter().sum::<f32>();
                    mv += moving[at].iter().filter(|m| **m).count() as u32;
                }
                if cnt >= need {
                    active.insert(r * COLS + c);
                }
                if mv >= MOVE_MIN {
                    moves.insert(r * COLS + c);
                }
            }
        }
        // An active cell is *live* when it or a neighbour moves: only live cells are
        // activity, and only under them does the background follow slowly. A cell that
        // differs but stands still (a ghost, a parked car) is taken into the background at
        // the quiet rate, so a ghost neither extends a segment nor lasts (before this, a
        // ghost kept its cell active, which kept its update slow, which kept the ghost:
        // the end of the benchmark's walk at 2304×1296 came 2 s late).
        let mut live = CellSet::default();
        for i in 0..COLS * ROWS {
            if active.contains(i) && neighbourhood(i).iter().any(|&j| moves.contains(j)) {
                live.insert(i);
            }
        }
        // Background update: fast where quiet, slow under motion; the fitted gain and
        // offset are applied to the background too, so slow light change is followed.
        let (fast, slow) = if self.warmup > 0 { (0.5, 0.5) } else { (0.1, 0.01) };
        for r in 0..ROWS {
            for c in 0..COLS {
                let a = if live.contains(r * COLS + c) { slow } else { fast };
                for y in r * CELL_H..(r + 1) * CELL_H {
                    for x in c * CELL_W..(c + 1) * CELL_W {
                        let i = y * WIDTH + x;
                        let b = gain * self.bg[i] + offset;
                        self.bg[i] = b + a * (f[i] - b);
                    }
                }
            }
        }
        if self.warmup > 0 {
            self.warmup -= 1;
            self.prev_active = CellSet::default();
            return;
        }
        // Only cells also active (or beside an active one) in the previous frame count.
        let mut confirmed = CellSet::default();
        for i in 0..COLS * ROWS {
            if live.contains(i) && neighbourhood(i).iter().any(|&j| self.prev_active.contains(j)) {
                confirmed.insert(i);
            }
        }
        self.prev_active = active;
        let pct = (confirmed.len() * 100).div_ceil(COLS * ROWS) as u8;
        let s = &mut self.per_second[second];
        s.0 = s.0.max(pct);
        s.1.union(&confirmed);
    }

    pub fn finish(self) -> Analysis {
        let activity: Vec<u8> = self.per_second.iter().map(|s| s.0).collect();
        let mut segments: Vec<Segment> = Vec::new();
        for (s, (pct, cells)) in self.per_second.iter().enumerate() {
            if *pct == 0 {
                continue;
            }
            let s = s as u32;
            match segments.last_mut() {
                Some(seg) if s <= seg.end_s + self.p.join_gap_s => {
                    seg.end_s = s + 1;
                    seg.cells.union(cells);
                    if *pct > seg.peak {
                        (seg.peak, seg.peak_s) = (*pct, s);
                    }
                }
                _ => segments.push(Segment {
                    start_s: s,
                    end_s: s + 1,
                    peak: *pct,
                    peak_s: s,
                    cells: *cells,
                }),
            }
        }
        Analysis {
            activity,
            segments,
            frames: self.frame_no,
            rebases: self.rebases,
        }
    }
}

/// Fits `f ≈ gain·bg + offset`, robustly: the gain only where the background has contrast
/// over most of the picture, and then twice, the second time without the fifth of the
/// pixels that fitted worst (a moving object's).
///
/// Why robust: with a flat background (a wall, a night sky, a synthetic test picture) the
/// only contrast is the object itself; a least-squares gain over every pixel then follows
/// the object (a gain near 0 when it moved), which looked like a global jump (an IR switch)
/// and re-based the background on every frame — the object was never seen.
fn fit(bg: &[f32], f: &[f32]) -> (f32, f32) {
    let med_b = median(bg.to_vec());
    let spread = median(bg.iter().map(|b| (b - med_b).abs()).collect());
    if spread < 2.0 {
        // No contrast to fit a gain on: only the offset, as the median difference.
        return (1.0, median(bg.iter().zip(f).map(|(b, v)| v - b).collect()));
    }
    let ls = |keep: &dyn Fn(usize) -> bool| {
        let (mut n, mut sb, mut sf) = (0.0f32, 0.0f32, 0.0f32);
        for i in (0..f.len()).filter(|i| keep(*i)) {
            n += 1.0;
            sb += bg[i];
            sf += f[i];
        }
        let (mb, mf) = (sb / n.max(1.0), sf / n.max(1.0));
        let (mut cov, mut var) = (0.0f32, 0.0f32);
        for i in (0..f.len()).filter(|i| keep(*i)) {
            cov += (bg[i] - mb) * (f[i] - mf);
            var += (bg[i] - mb) * (bg[i] - mb);
        }
        let gain = if var > n * 4.0 { cov / var } else { 1.0 };
        (gain, mf - gain * mb)
    };
    let (g, o) = ls(&|_| true);
    let err: Vec<f32> = bg.iter().zip(f).map(|(b, v)| (v - (g * b + o)).abs()).collect();
    let mut sorted = err.clone();
    let at = sorted.len() * 4 / 5;
    let cut = *sorted.select_nth_unstable_by(at, |a, b| a.total_cmp(b)).1;
    ls(&|i| err[i] <= cut)
}

fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    *v.select_nth_unstable_by(mid, |a, b| a.total_cmp(b)).1
}

/// The cell and its eight neighbours.
fn neighbourhood(i: usize) -> Vec<usize> {
    let (r, c) = ((i / COLS) as i64, (i % COLS) as i64);
    let mut out = Vec::with_capacity(9);
    for dr in -1..=1 {
        for dc in -1..=1 {
            let (rr, cc) = (r + dr, c + dc);
            if (0..ROWS as i64).contains(&rr) && (0..COLS as i64).contains(&cc) {
                out.push((rr * COLS as i64 + cc) as usize);
            }
        }
    }
    out
}

/// 3×3 box blur (edges clamped): takes the last bit of pixel noise out before comparing.
fn blur(src: &[u8], out: &mut [f32]) {
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let mut s = 0u32;
            for dy in [-1i64, 0, 1] {
                for dx in [-1i64, 0, 1] {
                    let yy = (y as i64 + dy).clamp(0, HEIGHT as i64 - 1) as usize;
                    let xx = (x as i64 + dx).clamp(0, WIDTH as i64 - 1) as usize;
                    s += src[yy * WIDTH + xx] as u32;
                }
            }
            out[y * WIDTH + x] = s as f32 / 9.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured scene (so gain fits have contrast), with optional noise, a brightness
    /// transform and a moving square.
    fn scene(t: f32, noise: f32, gain: f32, offset: f32, square: Option<(usize, usize)>, seed: &mut u64) -> Vec<u8> {
        let mut f = vec![0u8; WIDTH * HEIGHT];
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                let base = 100.0 + 40.0 * ((x as f32 / 7.0).sin() * (y as f32 / 5.0).cos());
                let mut v = base;
                if let Some((sx, sy)) = square {
                    if (sx..sx + 12).contains(&x) && (sy..sy + 12).contains(&y) {
                        v = 235.0;
                    }
                }
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5;
                v = gain * v + offset + noise * 3.4 * u + 0.0 * t;
                f[y * WIDTH + x] = v.clamp(0.0, 255.0) as u8;
            }
        }
        f
    }

    fn run(secs: u32, mut frame: impl FnMut(f32, &mut u64) -> Vec<u8>) -> Analysis {
        let p = Params::default();
        let mut a = Analyzer::new(p);
        let mut seed = 7;
        for i in 0..secs * p.fps {
            let t = i as f32 / p.fps as f32;
            a.push(&frame(t, &mut seed));
        }
        a.finish()
    }

    #[test]
    fn a_moving_square_is_one_segment_with_its_cells() {
        let a = run(12, |t, s| {
            let sq = (3.0..7.0).contains(&t).then(|| (10 + ((t - 3.0) * 15.0) as usize, 40));
            scene(t, 4.0, 1.0, 0.0, sq, s)
        });
        assert_eq!(a.segments.len(), 1, "{:?}", a.segments);
        let seg = &a.segments[0];
        assert!(seg.start_s.abs_diff(3) <= 1 && seg.end_s.abs_diff(7) <= 1, "{seg:?}");
        // The square ran along rows 4-5, x 10..82: never the right part of the frame.
        assert!(seg.cells.contains(4 * COLS + 2));
        assert!((0..ROWS).all(|r| !seg.cells.contains(r * COLS + 15)), "{seg:?}");
        assert!(seg.peak > 0 && (3..7).contains(&seg.peak_s));
    }

    #[test]
    fn noise_ir_jump_and_slow_light_are_silent() {
        let noisy = run(10, |t, s| scene(t, 12.0, 1.0, 0.0, None, s));
        assert!(noisy.segments.is_empty(), "noise: {:?}", noisy.segments);
        // IR switch at 4 s: darker, flatter picture.
        let ir = run(10, |t, s| {
            let (g, o) = if t >= 4.0 { (0.5, 70.0) } else { (1.0, 0.0) };
            scene(t, 3.0, g, o, None, s)
        });
        assert!(ir.segments.is_empty(), "IR switch: {:?}", ir.segments);
        assert_eq!(ir.rebases, vec![4]);
        // Dawn: 60 grey levels over 20 s.
        let dawn = run(20, |t, s| scene(t, 3.0, 1.0 + t * 0.01, t * 2.0, None, s));
        assert!(dawn.segments.is_empty(), "slow light: {:?}", dawn.segments);
        assert!(dawn.rebases.is_empty());
    }

    #[test]
    fn a_square_right_after_an_ir_switch_is_still_found() {
        let a = run(12, |t, s| {
            let (g, o) = if t >= 2.0 { (0.5, 70.0) } else { (1.0, 0.0) };
            let sq = (5.0..8.0).contains(&t).then(|| (100, 20 + ((t - 5.0) * 10.0) as usize));
            scene(t, 3.0, g, o, sq, s)
        });
        assert_eq!(a.segments.len(), 1, "{:?}", a.segments);
        assert!(a.segments[0].start_s.abs_diff(5) <= 1 && a.segments[0].end_s.abs_diff(8) <= 1);
    }

    #[test]
    fn a_square_on_a_flat_wall_from_the_first_frame_is_found() {
        // MAD 0 and no texture: the square is the background's only contrast.
        let a = run(10, |t, _| {
            let mut f = vec![128u8; WIDTH * HEIGHT];
            if t < 6.0 {
                let x0 = 5 + (t * 20.0) as usize;
                for y in 40..52 {
                    f[y * WIDTH + x0..y * WIDTH + x0 + 12].fill(235);
                }
            }
            f
        });
        assert!(a.rebases.is_empty(), "{:?}", a.rebases);
        assert_eq!(a.segments.len(), 1, "{:?}", a.segments);
        assert!(
            a.segments[0].start_s == 0 && a.segments[0].end_s.abs_diff(6) <= 1,
            "{:?}",
            a.segments
        );
        assert_eq!(a.activity[7..], [0; 3]);
    }
}
