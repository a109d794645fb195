//! The object detector (issue 15, item 2): a YOLO model the user supplies as ONNX
//! (`index.detector`), run with tract (pure Rust, no downloaded runtime) on the
//! representative frame of each activity segment.
//!
//! [`Detector::load`] reads and checks the model once, when the indexer starts: a missing
//! file, a file that is not ONNX, or an output that is not a YOLO layout is an error that
//! names the file and what to do; the caller then indexes without labels and shows the
//! error (a health problem in `serve`, a warning in `camvault index`). The decoding rules
//! are in `yolo.rs`; the frame comes from ffmpeg already scaled to fit the model's input
//! (`decode::rgb_frame`), and is letterboxed here.

use std::path::{Path, PathBuf};

use super::yolo::{self, Found, Layout, Letterbox};
use crate::catalog::index::Detection;
use crate::config::Config;

/// A loaded model and what it needs.
pub struct Detector {
    pub path: PathBuf,
    /// The model's input size (width, height).
    pub input: (usize, usize),
    pub layout: Layout,
    /// Class names, in class order (as many as the model has classes).
    pub names: Vec<String>,
    /// Where the names came from (`config`, `model metadata`, `COCO`), for the log.
    pub names_from: &'static str,
    pub confidence: f32,
    pub iou: f32,
    #[cfg(feature = "detector")]
    plan: tract_onnx::prelude::TypedRunnableModel<tract_onnx::prelude::TypedModel>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("path", &self.path)
            .field("input", &self.input)
            .field("layout", &self.layout)
            .field("names_from", &self.names_from)
            .finish()
    }
}

/// The input size a model with no fixed one (a `dynamic=True` export) is given:
/// ultralytics' default `imgsz`.
pub const DEFAULT_INPUT: usize = 640;

/// The class names the config gives, if any.
fn configured_names(cfg: &Config) -> anyhow::Result<Option<Vec<String>>> {
    if !cfg.index.detector_labels.is_empty() {
        return Ok(Some(cfg.index.detector_labels.clone()));
    }
    let f = &cfg.index.detector_labels_file;
    if f.as_os_str().is_empty() {
        return Ok(None);
    }
    let p = cfg.resolve(f);
    let text = std::fs::read_to_string(&p).map_err(|e| {
        anyhow::anyhow!(
            "`index.detector_labels_file` {}: {e}; give a text file with one class name a line, or leave it empty",
            p.display()
        )
    })?;
    Ok(Some(
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    ))
}

impl Detector {
    /// The configured detector: `Ok(None)` when there is none, `Err` (naming the file and
    /// what to do) when it cannot be used.
    pub fn from_config(cfg: &Config) -> anyhow::Result<Option<Detector>> {
        let Some(path) = cfg.detector() else { return Ok(None) };
        let names = configured_names(cfg)?;
        let d = Detector::load(&path, names, cfg.index.detector_confidence, cfg.index.detector_iou)?;
        Ok(Some(d))
    }

    /// Objects in one frame: `rgb` is the frame scaled by ffmpeg to the letterbox's size.
    pub fn detect_rgb(&self, rgb: &[u8], lb: &Letterbox) -> anyhow::Result<Vec<Detection>> {
        let input = lb.tensor(rgb, self.input.0, self.input.1);
        let out = self.run(input)?;
        Ok(yolo::decode(&out, self.layout, self.confidence, self.iou)
            .into_iter()
            .map(|f| self.detection(lb.unmap(f)))
            .collect())
    }

    /// The letterbox of a `w`×`h` frame in this model's input.
    pub fn letterbox(&self, w: usize, h: usize) -> Letterbox {
        Letterbox::new(w, h, self.input.0, self.input.1)
    }

    fn detection(&self, f: Found) -> Detection {
        let label = self
            .names
            .get(f.class)
            .cloned()
            .unwrap_or_else(|| format!("class{}", f.class));
        Detection {
            label,
            confidence: (f.confidence as f64 * 1000.0).round() / 1000.0,
            bbox: [f.x0, f.y0, f.x1, f.y1].map(|v| v.round() as u32),
        }
    }

    /// Checks the class names against the model's class count.
    #[cfg_attr(not(feature = "detector"), allow(dead_code))]
    fn pick_names(
        path: &Path,
        classes: usize,
        configured: Option<Vec<String>>,
        metadata: Option<Vec<String>>,
    ) -> anyhow::Result<(Vec<String>, &'static str)> {
        if let Some(n) = configured {
            if n.len() != classes {
                anyhow::bail!(
                    "detector {}: the model has {classes} classes but `index.detector_labels` (or its file) names {}; give one name per class, in class order",
                    path.display(),
                    n.len()
                );
            }
            return Ok((n, "config"));
        }
        if let Some(n) = metadata.filter(|n| n.len() == classes) {
            return Ok((n, "model metadata"));
        }
        if classes == yolo::COCO.len() {
            return Ok((yolo::COCO.iter().map(|s| s.to_string()).collect(), "COCO"));
        }
        anyhow::bail!(
            "detector {}: the model has {classes} classes and no class names in its metadata; set `index.detector_labels = [\"…\", …]` (one per class, in class order)",
            path.display()
        )
    }
}

#[cfg(feature = "detector")]
mod imp {
    use super::*;
    use tract_onnx::prelude::*;
    use tract_onnx::tract_hir::infer::Factoid;

    impl Detector {
        /// Loads and checks `path`. The error names the file and what to do.
        pub fn load(path: &Path, names: Option<Vec<String>>, confidence: f32, iou: f32) -> anyhow::Result<Detector> {
            let what = |why: String| {
                anyhow::anyhow!(
                    "detector {}: {why}; set `index.detector` to a YOLO detection model exported to ONNX (`yolo export model=yolov8n.pt format=onnx`, docs/index.md), or to \"\" for motion only",
                    path.display()
                )
            };
            if !path.is_file() {
                return Err(what("no such file".into()));
            }
            let onnx = tract_onnx::onnx();
            let proto = onnx
                .proto_model_for_path(path)
                .map_err(|e| what(format!("not an ONNX model ({e})")))?;
            if proto.graph.is_none()
                || proto
                    .graph
                    .as_ref()
                    .is_some_and(|g| g.node.is_empty() && g.output.is_empty())
            {
                return Err(what("not an ONNX model (no graph)".into()));
            }
            let meta = |k: &str| {
                proto
                    .metadata_props
                    .iter()
                    .find(|p| p.key == k)
                    .map(|p| p.value.clone())
            };
            let model = onnx
                .model_for_proto_model(&proto)
                .map_err(|e| what(format!("the ONNX graph cannot be read ({e:#})")))?;
            let fact = model
                .input_fact(0)
                .map_err(|e| what(format!("no input ({e})")))?
                .clone();
            let dims: Vec<Option<usize>> = fact
                .shape
                .dims()
                .map(|d| {
                    d.concretize()
                        .and_then(|d| d.to_i64().ok())
                        .and_then(|d| usize::try_from(d).ok())
                })
                .collect();
            // [1, 3, H, W]; a dynamic size takes ultralytics' `imgsz` metadata, else 640.
            if dims.len() != 4 || dims[1].is_some_and(|c| c != 3) {
                return Err(what(format!(
                    "its input is {:?}, not one RGB picture [1, 3, height, width]",
                    fact.shape
                )));
            }
            let imgsz: Option<(usize, usize)> = meta("imgsz").and_then(|s| {
                let v: Vec<usize> = s
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .filter_map(|x| x.trim().parse().ok())
                    .collect();
                (v.len() == 2).then(|| (v[1], v[0]))
            });
            let input = match (dims[3], dims[2]) {
                (Some(w), Some(h)) => (w, h),
                _ => imgsz.unwrap_or((DEFAULT_INPUT, DEFAULT_INPUT)),
            };
            if !(16..=4096).contains(&input.0) || !(16..=4096).contains(&input.1) {
                return Err(what(format!(
                    "its input size {}×{} is not a picture size",
                    input.0, input.1
                )));
            }
            let typed = model
                .with_input_fact(0, f32::fact([1, 3, input.1, input.0]).into())
                .and_then(|m| m.into_optimized())
                .map_err(|e| {
                    what(format!(
                        "the model cannot be prepared for {}×{} input ({e:#})",
                        input.0, input.1
                    ))
                })?;
            let out = typed.output_fact(0).map_err(|e| what(format!("no output ({e})")))?;
            let shape: Vec<usize> = out
                .shape
                .as_concrete()
                .map(|s| s.to_vec())
                .ok_or_else(|| what(format!("its output shape {:?} is not fixed", out.shape)))?;
            let layout = Layout::of(&shape).map_err(what)?;
            let plan = typed
                .into_runnable()
                .map_err(|e| what(format!("the model cannot be run ({e:#})")))?;
            let metadata = meta("names").and_then(|n| yolo::parse_names(&n));
            let (names, names_from) = Detector::pick_names(path, layout.classes(), names, metadata)?;
            Ok(Detector {
                path: path.to_path_buf(),
                input,
                layout,
                names,
                names_from,
                confidence,
                iou,
                plan,
            })
        }

        /// Runs the model on one NCHW input; its first output, flat.
        pub fn run(&self, input: Vec<f32>) -> anyhow::Result<Vec<f32>> {
            let (w, h) = self.input;
            let t = Tensor::from_shape(&[1, 3, h, w], &input)?;
            let out = self
                .plan
                .run(tvec!(t.into()))
                .map_err(|e| anyhow::anyhow!("detector {}: {e:#}", self.path.display()))?;
            let first = out
                .first()
                .ok_or_else(|| anyhow::anyhow!("detector {}: the model gave no output", self.path.display()))?;
            Ok(first.as_slice::<f32>()?.to_vec())
        }
    }
}

#[cfg(not(feature = "detector"))]
impl Detector {
    pub fn load(path: &Path, _names: Option<Vec<String>>, _c: f32, _i: f32) -> anyhow::Result<Detector> {
        anyhow::bail!(
            "detector {}: this camvault was built without the `detector` feature; rebuild with default features, or set `index.detector = \"\"`",
            path.display()
        )
    }
    pub fn run(&self, _input: Vec<f32>) -> anyhow::Result<Vec<f32>> {
        anyhow::bail!("built without the `detector` feature")
    }
}
