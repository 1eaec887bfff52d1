//! The one encoding under every domain-separated digest: parts concatenated, each prefixed by its length as 4 bytes
//! big-endian, so that no two lists of parts frame to the same bytes. The ballot's contest binding, the digests the
//! card signs, the export's and the audit log's hashes all frame their parts with it, the domain string first.
//!
//! It sits below both [`crate::ballot`] and [`crate::crypto`], which each use it, so that neither imports the other
//! for it.

/// Concatenates parts, each prefixed by its length as 4 bytes big-endian.
pub fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for p in parts {
        // Parts are identifiers, nonces and ciphertexts, far below 4 GiB.
        out.extend_from_slice(&u32::try_from(p.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_a_byte_between_parts_changes_the_framing() {
        assert_eq!(frame(&[b"ab", b""]), [0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0]);
        assert_ne!(frame(&[b"ab", b"c"]), frame(&[b"a", b"bc"]));
        assert_ne!(frame(&[b"abc"]), frame(&[b"ab", b"c"]));
    }
}
