//! Aliyun OSS, native API. So far: the V4 request signer (`sign.rs`), proven against
//! Aliyun's published vectors and the official Python SDK. The backend itself (PUT with
//! `x-oss-forbid-overwrite`, CRC-64 verification, multipart, restore, lifecycle) builds on
//! it; see the backends issue.

pub mod sign;
