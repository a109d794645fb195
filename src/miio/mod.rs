//! The camera's own state over the local miIO protocol: its SD card and its NAS sync.
//!
//! Xiaomi cameras answer miIO (UDP 54321, token-based AES) on the LAN. camvault asks, read
//! only, what the share cannot show: whether the camera has a working, not full memory
//! card (its only local copy) and whether its NAS sync is on and without errors.
//!
//! - [`packet`]: the wire format (header, checksum, AES-128-CBC), pure functions.
//! - [`client`]: hello, request, reply over UDP, with bounded retries; ignores stale,
//!   replayed and damaged packets.
//! - [`camera`]: the two questions, their answers, their health verdicts.
//! - [`poll`]: `serve`'s periodic poll, its catalog record, its metrics.
//!
//! The protocol follows python-miio (rytilahti/python-miio, `miio/protocol.py` and
//! `miio/miioprotocol.py`), and is tested against it (`tests/miio.rs`, `tests/miio_sim.py`).

pub mod camera;
pub mod client;
pub mod packet;
pub mod poll;
