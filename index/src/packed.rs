//! Short terms as integers that order as their bytes do, so that merging the segments'
//! counts compares integers, not strings. Issue ids (ten digits on sentry.io), levels,
//! environments and most releases fit; a term that does not is merged as bytes.

/// `term` as an integer ordered as its bytes are (big-endian, zero-padded), when it has at
/// most 16 bytes and no NUL (with one, `"a\0"` and `"a"` would be one key).
pub(crate) fn pack(term: &[u8]) -> Option<u128> {
    if term.len() > 16 || term.contains(&0) {
        return None;
    }
    let mut bytes = [0u8; 16];
    bytes[..term.len()].copy_from_slice(term);
    Some(u128::from_be_bytes(bytes))
}

/// How many bytes the term `key` was packed from has: the padding is the zero bytes
/// at the low end.
pub(crate) fn len(key: u128) -> usize {
    16 - key.trailing_zeros() as usize / 8
}

/// The term `key` was packed from.
pub(crate) fn unpack(key: u128) -> String {
    String::from_utf8_lossy(&key.to_be_bytes()[..len(key)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys compare as their terms do, and give them back; terms that cannot be keys are
    /// refused, not truncated or confused.
    #[test]
    fn keys_order_as_their_terms_and_give_them_back() {
        let mut terms: Vec<&[u8]> = vec![
            b"",
            b"1",
            b"10",
            b"9",
            b"4505123456",
            b"production",
            b"checkout@1.20.0",
            b"a",
            b"ab",
            b"b",
            b"abcdefghijklmnop",
            b"\xff",
            "caf\u{e9}".as_bytes(),
        ];
        terms.sort();
        let keys: Vec<u128> = terms.iter().map(|t| pack(t).unwrap()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{terms:?}");
        for (term, key) in terms.iter().zip(&keys) {
            assert_eq!(
                unpack(*key).as_bytes(),
                String::from_utf8_lossy(term).as_bytes()
            );
        }
        assert_eq!(pack(b"abcdefghijklmnopq"), None);
        assert_eq!(pack(b"a\0"), None);
    }
}
