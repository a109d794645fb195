//! What a YOLO detector's numbers mean (issue 15, item 2): the letterbox that fits a frame
//! into the model's square input, the standard output layouts, decoding them into boxes,
//! and class-wise non-maximum suppression. Pure computation on slices, so every rule is
//! tested without a model (`detector.rs` runs the model with tract).
//!
//! The layouts, as ultralytics exports them (`yolo export format=onnx`, one output
//! `output0`):
//! - **v8/v11** `[1, 4+nc, N]`: per candidate `cx, cy, w, h` then one score per class, no
//!   objectness; the candidates are the columns.
//! - **v5/v7** `[1, N, 5+nc]`: per candidate (a row) `cx, cy, w, h, objectness`, then class
//!   probabilities; a class's confidence is objectness × probability.
//!
//! Coordinates are in pixels of the model's input (the letterboxed picture); [`Letterbox`]
//! maps them back to the frame.

/// The output layout of a model, from its output shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[1, 4+nc, N]`, no objectness (ultralytics YOLOv8, YOLO11).
    V8 { classes: usize, candidates: usize },
    /// `[1, N, 5+nc]`, with objectness (YOLOv5, YOLOv7).
    V5 { classes: usize, candidates: usize },
}

impl Layout {
    /// The layout of an output of this shape, or why it is not one camvault reads.
    ///
    /// `[1, a, b]` is v8 when `a - 4` is a class count and `a < b` (a v8 model has far more
    /// candidates than classes: 8400 at 640×640), else v5 when `b >= 6`.
    pub fn of(shape: &[usize]) -> Result<Layout, String> {
        let dims = match shape {
            [1, a, b] => (*a, *b),
            [a, b] => (*a, *b),
            _ => {
                return Err(format!(
                    "output shape {shape:?} is not a YOLO detection output ([1, 4+classes, candidates] as YOLOv8/YOLO11 export it, or [1, candidates, 5+classes] as YOLOv5/YOLOv7 do)"
                ))
            }
        };
        let (a, b) = dims;
        if a > 4 && a < b {
            return Ok(Layout::V8 {
                classes: a - 4,
                candidates: b,
            });
        }
        if b > 5 && b <= a {
            return Ok(Layout::V5 {
                classes: b - 5,
                candidates: a,
            });
        }
        Err(format!(
            "output shape {shape:?} is not a YOLO detection output ([1, 4+classes, candidates] as YOLOv8/YOLO11 export it, or [1, candidates, 5+classes] as YOLOv5/YOLOv7 do; an export with nms=True or a segmentation/pose model is not supported)"
        ))
    }

    pub fn classes(&self) -> usize {
        match *self {
            Layout::V8 { classes, .. } | Layout::V5 { classes, .. } => classes,
        }
    }

    fn len(&self) -> usize {
        match *self {
            Layout::V8 { classes, candidates } => (4 + classes).saturating_mul(candidates),
            Layout::V5 { classes, candidates } => (5 + classes).saturating_mul(candidates),
        }
    }
}

/// One detected object, in the coordinates of whatever picture it was mapped to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub class: usize,
    pub confidence: f32,
    /// Corners `x0, y0, x1, y1`.
    pub x0: f32,
    pub y0: f32,
    pub x1: f32,
    pub y1: f32,
}

impl Found {
    fn area(&self) -> f32 {
        (self.x1 - self.x0).max(0.0) * (self.y1 - self.y0).max(0.0)
    }

    /// Intersection over union with `o` (0 when either is empty).
    pub fn iou(&self, o: &Found) -> f32 {
        let w = (self.x1.min(o.x1) - self.x0.max(o.x0)).max(0.0);
        let h = (self.y1.min(o.y1) - self.y0.max(o.y0)).max(0.0);
        let inter = w * h;
        let union = self.area() + o.area() - inter;
        if union > 0.0 && inter.is_finite() {
            inter / union
        } else {
            0.0
        }
    }
}

/// At most this many candidates go into NMS (the best ones): ultralytics' `max_nms`, so a
/// model that scores everything high cannot make NMS quadratic in 8400 candidates.
pub const MAX_NMS: usize = 30_000;
/// At most this many objects per frame are kept (ultralytics' `max_det` is 300; a frame of a
/// home camera never holds that many, and each one is stored).
pub const MAX_DET: usize = 100;

/// Decodes `out` (the model's output, of `layout`) into objects at `confidence` or above,
/// best class per candidate, after class-wise NMS at `iou`. Never panics: a short output
/// gives what it holds, non-finite numbers are skipped.
pub fn decode(out: &[f32], layout: Layout, confidence: f32, iou: f32) -> Vec<Found> {
    if out.len() < layout.len() {
        return Vec::new();
    }
    let mut found = Vec::new();
    match layout {
        Layout::V8 { classes, candidates } => {
            let at = |row: usize, i: usize| out[row * candidates + i];
            for i in 0..candidates {
                let best = (0..classes)
                    .map(|c| (c, at(4 + c, i)))
                    .filter(|(_, s)| s.is_finite())
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((class, score)) = best {
                    push(
                        &mut found,
                        class,
                        score,
                        [at(0, i), at(1, i), at(2, i), at(3, i)],
                        confidence,
                    );
                }
            }
        }
        Layout::V5 { classes, candidates } => {
            let stride = 5 + classes;
            for row in out.chunks_exact(stride).take(candidates) {
                let obj = row[4];
                if obj.is_nan() || obj < confidence {
                    continue;
                }
                let best = row[5..]
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.is_finite())
                    .max_by(|a, b| a.1.total_cmp(b.1));
                if let Some((class, p)) = best {
                    push(&mut found, class, obj * p, [row[0], row[1], row[2], row[3]], confidence);
                }
            }
        }
    }
    nms(found, iou)
}

fn push(found: &mut Vec<Found>, class: usize, score: f32, b: [f32; 4], confidence: f32) {
    if score.is_nan() || score < confidence || b.iter().any(|v| !v.is_finite()) {
        return;
    }
    let [cx, cy, w, h] = b;
    if w <= 0.0 || h <= 0.0 {
        return;
    }
    found.push(Found {
        class,
        confidence: score,
        x0: cx - w / 2.0,
        y0: cy - h / 2.0,
        x1: cx + w / 2.0,
        y1: cy + h / 2.0,
    });
}

/// Class-wise NMS: best first; a box is dropped when it overlaps a kept box of the same
/// class by more than `iou`.
pub fn nms(mut found: Vec<Found>, iou: f32) -> Vec<Found> {
    found.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    found.truncate(MAX_NMS);
    let mut kept: Vec<Found> = Vec::new();
    for f in found {
        if kept.len() >= MAX_DET {
            break;
        }
        if kept.iter().all(|k| k.class != f.class || k.iou(&f) <= iou) {
            kept.push(f);
        }
    }
    kept
}

/// How a `width`×`height` frame sits in the model's `in_w`×`in_h` input: scaled by one
/// factor to fit, centred, the rest padded grey (114, as ultralytics' `LetterBox` does).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    /// The scaled picture's size and its offset in the input.
    pub w: usize,
    pub h: usize,
    pub left: usize,
    pub top: usize,
    /// The frame's size, for clamping boxes mapped back.
    pub frame_w: usize,
    pub frame_h: usize,
}

pub const PAD: u8 = 114;

impl Letterbox {
    pub fn new(frame_w: usize, frame_h: usize, in_w: usize, in_h: usize) -> Letterbox {
        let (fw, fh) = (frame_w.max(1), frame_h.max(1));
        let scale = (in_w as f32 / fw as f32).min(in_h as f32 / fh as f32);
        let w = ((fw as f32 * scale).round() as usize).clamp(1, in_w.max(1));
        let h = ((fh as f32 * scale).round() as usize).clamp(1, in_h.max(1));
        Letterbox {
            scale,
            w,
            h,
            left: (in_w.saturating_sub(w)) / 2,
            top: (in_h.saturating_sub(h)) / 2,
            frame_w: fw,
            frame_h: fh,
        }
    }

    /// A box in input pixels → frame pixels, clamped to the frame.
    pub fn unmap(&self, f: Found) -> Found {
        let sx = self.w as f32 / self.frame_w as f32;
        let sy = self.h as f32 / self.frame_h as f32;
        let x = |v: f32| ((v - self.left as f32) / sx).clamp(0.0, self.frame_w as f32);
        let y = |v: f32| ((v - self.top as f32) / sy).clamp(0.0, self.frame_h as f32);
        Found {
            x0: x(f.x0),
            y0: y(f.y0),
            x1: x(f.x1),
            y1: y(f.y1),
            ..f
        }
    }

    /// The model's input: `rgb` (the frame already scaled to `w`×`h`, RGB24 rows) placed in
    /// the padded input, as NCHW f32 in 0..1.
    pub fn tensor(&self, rgb: &[u8], in_w: usize, in_h: usize) -> Vec<f32> {
        let plane = in_w * in_h;
        let mut t = vec![PAD as f32 / 255.0; 3 * plane];
        for y in 0..self.h.min(in_h.saturating_sub(self.top)) {
            for x in 0..self.w.min(in_w.saturating_sub(self.left)) {
                let src = (y * self.w + x) * 3;
                let Some(px) = rgb.get(src..src + 3) else { return t };
                let dst = (y + self.top) * in_w + x + self.left;
                for (c, v) in px.iter().enumerate() {
                    t[c * plane + dst] = *v as f32 / 255.0;
                }
            }
        }
        t
    }
}

/// The 80 COCO classes, in the order the ultralytics COCO models (and YOLOv5/v7) use.
pub const COCO: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// The class names ultralytics writes into the ONNX file's metadata (`names`, the Python
/// `str()` of a dict: `{0: 'person', 1: 'bicycle', …}`), in class order; `None` when the
/// text is not such a dict or its keys are not 0..n.
pub fn parse_names(text: &str) -> Option<Vec<String>> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut rest = body.trim();
    while !rest.is_empty() {
        let (k, r) = rest.split_once(':')?;
        let k: usize = k.trim().trim_matches(|c| c == '\'' || c == '"').parse().ok()?;
        let r = r.trim_start();
        let q = r.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let end = r[1..].find(q)? + 1;
        out.push((k, r[1..end].to_string()));
        rest = r[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    out.sort_by_key(|(k, _)| *k);
    let ordered = out.iter().enumerate().all(|(i, (k, _))| i == *k);
    (ordered && !out.is_empty()).then(|| out.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v8 output of `nc` classes from candidates `(cx, cy, w, h, class, score)`.
    fn v8(nc: usize, n: usize, cands: &[(f32, f32, f32, f32, usize, f32)]) -> Vec<f32> {
        let mut out = vec![0.0; (4 + nc) * n];
        for (i, &(cx, cy, w, h, c, s)) in cands.iter().enumerate() {
            for (row, v) in [cx, cy, w, h].into_iter().enumerate() {
                out[row * n + i] = v;
            }
            out[(4 + c) * n + i] = s;
        }
        out
    }

    #[test]
    fn layouts_are_told_apart_by_shape() {
        assert_eq!(
            Layout::of(&[1, 84, 8400]),
            Ok(Layout::V8 {
                classes: 80,
                candidates: 8400
            })
        );
        assert_eq!(
            Layout::of(&[1, 25200, 85]),
            Ok(Layout::V5 {
                classes: 80,
                candidates: 25200
            })
        );
        assert!(Layout::of(&[1, 3, 640, 640]).unwrap_err().contains("[1, 3, 640, 640]"));
        assert!(Layout::of(&[1, 300, 6]).is_ok(), "one class, v5");
        assert!(Layout::of(&[1, 4, 8400]).is_err(), "no class row");
        assert!(Layout::of(&[1, 10, 5]).is_err());
    }

    #[test]
    fn v8_nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let out = v8(
            3,
            8,
            &[
                (100.0, 100.0, 50.0, 80.0, 0, 0.9),
                (104.0, 102.0, 50.0, 80.0, 0, 0.8), // same person, worse: dropped
                (104.0, 102.0, 50.0, 80.0, 2, 0.7), // same place, other class: kept
                (300.0, 300.0, 40.0, 40.0, 1, 0.3), // below the threshold
            ],
        );
        let l = Layout::of(&[1, 7, 8]).unwrap();
        assert_eq!(
            l,
            Layout::V8 {
                classes: 3,
                candidates: 8
            }
        );
        let f = decode(&out, l, 0.4, 0.7);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!((f[0].class, f[0].confidence), (0, 0.9));
        assert_eq!((f[0].x0, f[0].y0, f[0].x1, f[0].y1), (75.0, 60.0, 125.0, 140.0));
        assert_eq!(f[1].class, 2);
    }

    #[test]
    fn v5_multiplies_objectness_by_the_class_probability() {
        // Two rows of 5 + 2 classes.
        // Eight rows of 5 + 2 classes (the rest empty).
        let mut out = vec![0.0f32; 8 * 7];
        out[..14].copy_from_slice(&[
            50.0, 50.0, 20.0, 20.0, 0.9, 0.1, 0.8, // class 1 at 0.72
            50.0, 50.0, 20.0, 20.0, 0.3, 1.0, 0.0, // objectness too low
        ]);
        let f = decode(&out, Layout::of(&[1, 8, 7]).unwrap(), 0.4, 0.5);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].class, 1);
        assert!((f[0].confidence - 0.72).abs() < 1e-6);
    }

    #[test]
    fn letterbox_maps_boxes_back_to_the_frame() {
        // 2304×1296 into 640×640: scale 640/2304, 640×360 centred at top 140.
        let lb = Letterbox::new(2304, 1296, 640, 640);
        assert_eq!((lb.w, lb.h, lb.left, lb.top), (640, 360, 0, 140));
        let f = Found {
            class: 0,
            confidence: 1.0,
            x0: 320.0,
            y0: 140.0,
            x1: 640.0,
            y1: 320.0,
        };
        let m = lb.unmap(f);
        let r = [m.x0, m.y0, m.x1, m.y1].map(|v| (v * 100.0).round() / 100.0);
        assert_eq!(r, [1152.0, 0.0, 2304.0, 648.0]);
        // A box in the padding is clamped to the frame's edge.
        let pad = lb.unmap(Found { y0: 0.0, y1: 10.0, ..f });
        assert_eq!((pad.y0, pad.y1), (0.0, 0.0));
    }

    #[test]
    fn the_input_tensor_is_nchw_rgb_over_255_with_grey_padding() {
        let lb = Letterbox::new(4, 2, 4, 4);
        assert_eq!((lb.w, lb.h, lb.left, lb.top), (4, 2, 0, 1));
        let mut rgb = vec![0u8; 4 * 2 * 3];
        rgb[0..3].copy_from_slice(&[255, 0, 51]);
        let t = lb.tensor(&rgb, 4, 4);
        assert_eq!(t.len(), 48);
        // Row 0 is padding; the first pixel lands at (x 0, y 1).
        assert_eq!(t[0], 114.0 / 255.0);
        assert_eq!((t[4], t[16 + 4], t[32 + 4]), (1.0, 0.0, 0.2));
    }

    #[test]
    fn ultralytics_names_metadata_is_read_in_class_order() {
        let n = parse_names("{0: 'person', 1: 'bicycle', 2: \"o'clock\"}").unwrap();
        assert_eq!(n, ["person", "bicycle", "o'clock"]);
        assert_eq!(parse_names("{1: 'a', 0: 'b'}").unwrap(), ["b", "a"]);
        assert!(parse_names("{0: 'a', 2: 'b'}").is_none(), "a gap");
        assert!(parse_names("['a', 'b']").is_none());
        assert!(parse_names("{}").is_none());
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(
            shape in proptest::collection::vec(0usize..40, 0..4),
            values in proptest::collection::vec(proptest::num::f32::ANY, 0..600),
            conf in proptest::num::f32::ANY,
            iou in proptest::num::f32::ANY,
        ) {
            if let Ok(l) = Layout::of(&shape) {
                for f in decode(&values, l, conf, iou) {
                    proptest::prop_assert!(f.class < l.classes());
                    let lb = Letterbox::new(shape.iter().sum(), 7, 64, 64);
                    let m = lb.unmap(f);
                    proptest::prop_assert!(m.x0 >= 0.0 && m.x1 <= lb.frame_w as f32);
                }
            }
        }
    }
}
