//! Named zones of a camera's picture (`[[cameras.<mac>.zones]]`) and the grid cells each
//! one covers, so that motion found in cells is attributed to the zones it touches.
//!
//! Coordinates are fractions of the frame (0.0 = left/top, 1.0 = right/bottom), not pixels:
//! the same zone then fits the camera's main stream, its sub-stream and the analysis'
//! scaled-down picture, and a zone outside the frame is caught when the config is read
//! (no clip needed to know the resolution). A leaf module: config uses it, it uses nothing.

use serde::Deserialize;

/// One zone as written in the config: a rectangle `rect = [x, y, w, h]` or a polygon
/// `polygon = [[x, y], …]` (at least three corners), in fractions of the frame.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub name: String,
    #[serde(default)]
    pub rect: Option<[f64; 4]>,
    #[serde(default)]
    pub polygon: Option<Vec<[f64; 2]>>,
}

impl Zone {
    /// The zone's outline as polygon corners.
    pub fn corners(&self) -> Vec<[f64; 2]> {
        match (&self.rect, &self.polygon) {
            (Some([x, y, w, h]), _) => vec![[*x, *y], [x + w, *y], [x + w, y + h], [*x, y + h]],
            (None, Some(p)) => p.clone(),
            (None, None) => Vec::new(),
        }
    }

    /// Checks the zone; the error says what is wrong and how to write it right
    /// (the caller prefixes the camera and the zone's place in the config).
    pub fn check(&self) -> Result<(), String> {
        let ok_name = !self.name.is_empty()
            && self.name.len() <= 40
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok_name {
            return Err(format!(
                "name {:?}: use 1-40 letters, digits, '-' or '_' (it is typed in searches: `--zone gate`)",
                self.name
            ));
        }
        match (&self.rect, &self.polygon) {
            (Some(_), Some(_)) => return Err("give either `rect` or `polygon`, not both".into()),
            (None, None) => {
                return Err("give `rect = [x, y, w, h]` or `polygon = [[x, y], …]`, in fractions of the frame".into())
            }
            (Some([_, _, w, h]), None) if !(*w > 0.0 && *h > 0.0) => {
                return Err(format!("rect width {w} and height {h} must be above 0"))
            }
            (None, Some(p)) if p.len() < 3 => {
                return Err(format!("polygon has {} corners; it needs at least 3", p.len()))
            }
            _ => {}
        }
        for [x, y] in self.corners() {
            // A small tolerance for rounding in hand-written fractions (0.1 + 0.9).
            let inside = |v: f64| v.is_finite() && (-1e-9..=1.0 + 1e-9).contains(&v);
            if !inside(x) || !inside(y) {
                return Err(format!(
                    "corner ({x}, {y}) is outside the frame: coordinates are fractions of the picture, 0.0 to 1.0 (e.g. rect = [0.5, 0.0, 0.5, 0.4] is the top right)"
                ));
            }
        }
        Ok(())
    }

    /// Whether the point (fractions) lies inside the zone (even-odd rule).
    pub fn contains(&self, px: f64, py: f64) -> bool {
        let c = self.corners();
        let mut inside = false;
        let mut j = c.len().wrapping_sub(1);
        for i in 0..c.len() {
            let ([xi, yi], [xj, yj]) = (c[i], c[j]);
            if (yi > py) != (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// The cells of a `cols`×`rows` grid the zone covers: a cell counts when at least a
    /// quarter of it lies inside (sampled on 4×4 points), or when the zone is so small that
    /// it covers no cell that much (then every cell it touches at all, at least the cell of its
    /// centre).
    pub fn cells(&self, cols: usize, rows: usize) -> CellSet {
        let mut most = CellSet::default();
        let mut any = CellSet::default();
        for r in 0..rows {
            for c in 0..cols {
                let mut n = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let x = (c as f64 + (sx as f64 + 0.5) / 4.0) / cols as f64;
                        let y = (r as f64 + (sy as f64 + 0.5) / 4.0) / rows as f64;
                        n += self.contains(x, y) as u32;
                    }
                }
                if n >= 4 {
                    most.insert(r * cols + c);
                }
                if n > 0 {
                    any.insert(r * cols + c);
                }
            }
        }
        if !most.is_empty() {
            return most;
        }
        if any.is_empty() {
            // Smaller than the sampling step: the cell its centre lies in.
            let c = self.corners();
            let n = c.len().max(1) as f64;
            let (x, y) = (
                c.iter().map(|p| p[0]).sum::<f64>() / n,
                c.iter().map(|p| p[1]).sum::<f64>() / n,
            );
            let col = ((x * cols as f64) as usize).min(cols - 1);
            let row = ((y * rows as f64) as usize).min(rows - 1);
            any.insert(row * cols + col);
        }
        any
    }
}

/// A set of grid cells (the analysis grid has at most 256 cells).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellSet(pub [u64; 4]);

impl CellSet {
    pub fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    pub fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    pub fn union(&mut self, o: &CellSet) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a |= b;
        }
    }
    pub fn intersects(&self, o: &CellSet) -> bool {
        self.0.iter().zip(o.0).any(|(a, b)| a & b != 0)
    }
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }
    /// 64 hex digits, cell 0 first (lowest bit of the first word): how the catalog stores it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|w| format!("{w:016x}")).collect()
    }
    pub fn from_hex(s: &str) -> Option<CellSet> {
        if s.len() != 64 {
            return None;
        }
        let mut out = CellSet::default();
        for (i, w) in out.0.iter_mut().enumerate() {
            *w = u64::from_str_radix(s.get(i * 16..i * 16 + 16)?, 16).ok()?;
        }
        Some(out)
    }
}

/// The names of the zones whose cells intersect `cells`, in config order.
pub fn touched(zones: &[(String, CellSet)], cells: &CellSet) -> Vec<String> {
    zones
        .iter()
        .filter(|(_, z)| z.intersects(cells))
        .map(|(n, _)| n.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(name: &str, r: [f64; 4]) -> Zone {
        Zone {
            name: name.into(),
            rect: Some(r),
            polygon: None,
        }
    }

    #[test]
    fn zones_outside_the_frame_or_malformed_are_refused_with_the_reason() {
        assert!(rect("gate", [0.0, 0.0, 0.5, 1.0]).check().is_ok());
        let e = rect("gate", [0.8, 0.0, 0.5, 0.5]).check().unwrap_err();
        assert!(e.contains("outside the frame") && e.contains("1.3"), "{e}");
        let e = rect("gate", [0.1, 0.1, 0.0, 0.5]).check().unwrap_err();
        assert!(e.contains("above 0"), "{e}");
        let e = rect("my gate", [0.1, 0.1, 0.2, 0.2]).check().unwrap_err();
        assert!(e.contains("\"my gate\""), "{e}");
        let p = Zone {
            name: "path".into(),
            rect: None,
            polygon: Some(vec![[0.0, 0.0], [1.0, 0.0]]),
        };
        assert!(p.check().unwrap_err().contains("at least 3"));
        let p = Zone {
            name: "path".into(),
            rect: None,
            polygon: Some(vec![[0.0, 0.0], [1.0, 0.0], [0.5, -0.2]]),
        };
        assert!(p.check().unwrap_err().contains("outside the frame"));
    }

    #[test]
    fn cells_follow_the_zone_shape() {
        // Left half of a 16×9 grid: columns 0-7 of every row.
        let left = rect("left", [0.0, 0.0, 0.5, 1.0]).cells(16, 9);
        assert_eq!(left.len(), 8 * 9);
        assert!(left.contains(0) && left.contains(7) && !left.contains(8) && left.contains(8 * 16 + 7));
        // A triangle over the top-left corner covers cell 0 but not the bottom-right one.
        let tri = Zone {
            name: "t".into(),
            rect: None,
            polygon: Some(vec![[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]]),
        }
        .cells(16, 9);
        assert!(tri.contains(0) && !tri.contains(16 * 9 - 1) && tri.len() < 8 * 9 / 2 + 8);
        // A zone smaller than a cell still has the cell it sits in.
        let tiny = rect("tiny", [0.51, 0.51, 0.01, 0.01]).cells(16, 9);
        assert_eq!(tiny.len(), 1);
        assert!(tiny.contains(4 * 16 + 8));
        let set = [("left".to_string(), left), ("tiny".to_string(), tiny)];
        let mut c = CellSet::default();
        c.insert(3);
        assert_eq!(touched(&set, &c), vec!["left"]);
        assert_eq!(CellSet::from_hex(&c.to_hex()), Some(c));
    }
}
