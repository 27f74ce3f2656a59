//! Each journal record is stored framed: a tag byte, the CRC-32 (IEEE) of the
//! JSON, then the JSON. A record edited or damaged on disk fails its checksum and
//! is reported as damage instead of being believed.

/// First byte of a framed record (a JSON record never starts with it).
pub const FRAME_TAG: u8 = 0x01;
/// Tag plus checksum.
pub const FRAME_HEADER_BYTES: usize = 5;

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, as zlib and gzip compute it).
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| TABLE[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8))
}

/// The stored form of a record's JSON.
pub fn frame(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_BYTES + json.len());
    out.push(FRAME_TAG);
    out.extend_from_slice(&crc32(json).to_le_bytes());
    out.extend_from_slice(json);
    out
}

/// What a stored value holds.
pub enum Unframed<'a> {
    /// A framed record whose checksum matches: its JSON.
    Checked(&'a [u8]),
    /// A record from before checksums (store format 1): plain JSON.
    Legacy(&'a [u8]),
    /// Framed, but the checksum does not match, or too short to be a frame.
    Damaged(String),
}

pub fn unframe(stored: &[u8]) -> Unframed<'_> {
    match stored.first() {
        Some(&FRAME_TAG) => {
            if stored.len() < FRAME_HEADER_BYTES {
                return Unframed::Damaged(format!("{} bytes, shorter than the record header", stored.len()));
            }
            let mut sum = [0u8; 4];
            sum.copy_from_slice(&stored[1..FRAME_HEADER_BYTES]);
            let expected = u32::from_le_bytes(sum);
            let json = &stored[FRAME_HEADER_BYTES..];
            let actual = crc32(json);
            if actual == expected {
                Unframed::Checked(json)
            } else {
                Unframed::Damaged(format!("checksum {actual:08x} does not match the stored {expected:08x}: the record was changed on disk"))
            }
        }
        _ => Unframed::Legacy(stored),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn a_changed_byte_is_caught() {
        let mut stored = frame(br#"{"seq":1}"#);
        assert!(matches!(unframe(&stored), Unframed::Checked(b"{\"seq\":1}")));
        let last = stored.len() - 2;
        stored[last] = b'2';
        assert!(matches!(unframe(&stored), Unframed::Damaged(_)));
        assert!(matches!(unframe(b"{}"), Unframed::Legacy(_)));
        assert!(matches!(unframe(&[FRAME_TAG, 1]), Unframed::Damaged(_)));
    }
}
