//! One miIO packet: the 32-byte header, the MD5 checksum, and the AES-128-CBC payload.
//!
//! Pure functions, no I/O: everything here is a function of bytes and the token, so it is
//! fuzzed and tested against python-miio's own encoder (`tests/miio_sim.py`).
//!
//! The format, as python-miio implements it (`miio/protocol.py`, `Message`):
//!
//! ```text
//! 0      2        4          8           12        16                32
//! | 2131 | length | unknown  | device id | stamp   | checksum (16)   | payload …
//! ```
//!
//! All integers big-endian; `length` counts the whole packet. The checksum is
//! `MD5(header[0..16] ‖ token ‖ payload)`. The payload is the JSON request or reply with a
//! trailing NUL, PKCS#7-padded and encrypted with AES-128-CBC, key `MD5(token)`, IV
//! `MD5(key ‖ token)`. The hello ("discover") packet is the header alone, every other byte
//! 0xff; its reply is a bare header carrying the device id and the device's stamp.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use md5::{Digest, Md5};

/// The UDP port miIO devices listen on (defined once, with the camera addresses the
/// config reads: `config` depends only on leaf modules).
pub use crate::config::MIIO_PORT as PORT;
pub const HEADER_LEN: usize = 32;
const MAGIC: [u8; 2] = [0x21, 0x31];
/// A reply larger than this is not a camera's answer to our small requests.
pub const MAX_PACKET: usize = 16 * 1024;

/// The 16-byte device token: the only secret of the protocol. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token([u8; 16]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// From the 32 hex digits the Mi Home app's token extractors print. The error never
    /// repeats the text (it may be a token with one typo).
    pub fn from_hex(text: &str) -> Result<Token, String> {
        let t = text.trim();
        crate::config::check_miio_token(t)?;
        let mut out = [0u8; 16];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
        }
        Ok(Token(out))
    }

    fn key_iv(&self) -> ([u8; 16], [u8; 16]) {
        let key: [u8; 16] = Md5::digest(self.0).into();
        let mut h = Md5::new();
        h.update(key);
        h.update(self.0);
        (key, h.finalize().into())
    }
}

/// The header fields of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub length: u16,
    pub unknown: u32,
    pub device_id: u32,
    pub stamp: u32,
}

/// Why a received packet was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("{0} bytes is shorter than a miIO header (32)")]
    Short(usize),
    #[error("not a miIO packet (magic {0:02x}{1:02x}, expected 2131)")]
    Magic(u8, u8),
    #[error("the header says {said} bytes but {got} arrived")]
    Length { said: usize, got: usize },
    #[error("bad checksum: the packet was not made with this token, or was damaged")]
    Checksum,
    #[error("the payload does not decrypt with this token ({0})")]
    Decrypt(&'static str),
}

/// The hello packet that asks a device for its id and stamp.
pub fn hello() -> [u8; HEADER_LEN] {
    let mut p = [0xffu8; HEADER_LEN];
    p[..2].copy_from_slice(&MAGIC);
    p[2..4].copy_from_slice(&(HEADER_LEN as u16).to_be_bytes());
    p
}

/// Reads the header of a packet, checking magic and length.
pub fn header(buf: &[u8]) -> Result<Header, PacketError> {
    if buf.len() < HEADER_LEN {
        return Err(PacketError::Short(buf.len()));
    }
    if buf[..2] != MAGIC {
        return Err(PacketError::Magic(buf[0], buf[1]));
    }
    let be32 = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let h = Header {
        length: u16::from_be_bytes([buf[2], buf[3]]),
        unknown: be32(4),
        device_id: be32(8),
        stamp: be32(12),
    };
    if h.length as usize != buf.len() {
        return Err(PacketError::Length {
            said: h.length as usize,
            got: buf.len(),
        });
    }
    Ok(h)
}

fn checksum(head16: &[u8], token: &Token, payload: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(head16);
    h.update(token.0);
    h.update(payload);
    h.finalize().into()
}

/// Builds a request: `json` encrypted, header with `device_id` and `stamp`, checksum.
pub fn encode(token: &Token, device_id: u32, stamp: u32, json: &[u8]) -> Vec<u8> {
    let (key, iv) = token.key_iv();
    let mut plain = json.to_vec();
    plain.push(0); // python-miio sends the JSON NUL-terminated, as the devices do
    let payload = cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into()).encrypt_padded_vec_mut::<Pkcs7>(&plain);
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&((HEADER_LEN + payload.len()) as u16).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&device_id.to_be_bytes());
    out.extend_from_slice(&stamp.to_be_bytes());
    let sum = checksum(&out[..16], token, &payload);
    out.extend_from_slice(&sum);
    out.extend_from_slice(&payload);
    out
}

/// Checks and decrypts a reply; returns its header and the JSON bytes (padding and
/// trailing NULs removed). A bare header (a hello reply) has no payload and is refused
/// here: see [`header`].
pub fn decode(token: &Token, buf: &[u8]) -> Result<(Header, Vec<u8>), PacketError> {
    let h = header(buf)?;
    let payload = &buf[HEADER_LEN..];
    if payload.is_empty() {
        return Err(PacketError::Decrypt("no payload"));
    }
    if checksum(&buf[..16], token, payload) != buf[16..32] {
        return Err(PacketError::Checksum);
    }
    if payload.len() % 16 != 0 {
        return Err(PacketError::Decrypt("length is not a multiple of the AES block"));
    }
    let (key, iv) = token.key_iv();
    let mut plain = cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(payload)
        .map_err(|_| PacketError::Decrypt("bad padding"))?;
    while plain.last() == Some(&0) {
        plain.pop();
    }
    Ok((h, plain))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token::from_hex("00112233445566778899aabbccddeeff").unwrap()
    }

    #[test]
    fn round_trip_and_header_fields() {
        let t = token();
        let json = br#"{"id":7,"method":"nas_get_config","params":{}}"#;
        let p = encode(&t, 0x0102_0304, 0x5f00_0001, json);
        assert_eq!(p.len() % 16, 0);
        assert_eq!(&p[..2], &[0x21, 0x31]);
        let (h, back) = decode(&t, &p).unwrap();
        assert_eq!(back, json);
        assert_eq!(
            (h.device_id, h.stamp, h.length as usize),
            (0x0102_0304, 0x5f00_0001, p.len())
        );
    }

    #[test]
    fn known_vector_from_python_miio() {
        // Made with python-miio 0.5.12 (`miio.protocol.Message.build`): request
        // {"id": 1, "method": "miIO.info", "params": []} (json.dumps spacing), device id
        // 01020304, stamp 1700000000, token 00112233445566778899aabbccddeeff.
        let want = "2131005000000000010203046553f100ee19d501f35c2285cab89231138f28c12a36b2b7afa85bd6a9f1ed82b485a3d6c2c13a12855c97fc9a0bd7be55469c61b5393611ac2c922588d969ad8c226bde";
        let got = encode(
            &token(),
            0x0102_0304,
            1_700_000_000,
            br#"{"id": 1, "method": "miIO.info", "params": []}"#,
        );
        assert_eq!(hex(&got), want);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn refuses_bad_checksum_magic_length_and_wrong_token() {
        let t = token();
        let mut p = encode(&t, 1, 2, b"{}");
        p[20] ^= 1;
        assert_eq!(decode(&t, &p).unwrap_err(), PacketError::Checksum);
        p[20] ^= 1;
        let other = Token::from_hex("ffeeddccbbaa99887766554433221100").unwrap();
        assert_eq!(decode(&other, &p).unwrap_err(), PacketError::Checksum);
        assert!(matches!(decode(&t, &p[..40]).unwrap_err(), PacketError::Length { .. }));
        assert!(matches!(decode(&t, &p[..10]).unwrap_err(), PacketError::Short(10)));
        let mut q = p.clone();
        q[0] = 0;
        assert!(matches!(decode(&t, &q).unwrap_err(), PacketError::Magic(..)));
        assert_eq!(header(&hello()).unwrap().length, 32);
        assert!(decode(&t, &hello()).is_err());
    }

    #[test]
    fn token_errors_never_echo_the_text() {
        let e = Token::from_hex("00112233445566778899aabbccddeefg").unwrap_err();
        assert!(!e.contains("0011"), "{e}");
        assert!(Token::from_hex("abc").is_err());
        assert_eq!(format!("{:?}", token()), "Token(***)");
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let t = token();
        let mut x = 0x1234_5678_9abc_def0u64;
        for n in 0..2000usize {
            let len = n % 97;
            let mut buf: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if len >= 4 {
                buf[0] = 0x21;
                buf[1] = 0x31;
                buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            }
            let _ = decode(&t, &buf);
        }
    }
}
