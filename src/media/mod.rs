//! Media work on captured clips: a pipeline stage below the web interface, which only
//! serves what it made.
//!
//! - [`thumbs`]: one JPEG frame per clip, made right after capture (the `thumbnails`
//!   worker of `serve`) and kept in the store under `thumbs/`.
//! - [`queue`]: the one bounded queue every ffmpeg of `serve` runs through — this stage's
//!   and the web interface's (transcodes, thumbnails on request, exports) alike.
//! - [`ffmpeg`]: how camvault starts ffmpeg (the preamble shared with `restore::merge`).
//!
//! The index of issue 15 (keyframes, activity, preview strips) is the next stage here.

pub mod ffmpeg;
pub mod queue;
pub mod thumbs;
