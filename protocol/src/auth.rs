//! The authkey handshake of TCP connections (docs/PROTOCOL.md §1.2), as bytes and MACs: no IO,
//! no clock, no randomness (the caller brings the nonces), so the broker's state machine and
//! every client build and check exactly the same messages.
//!
//! Three frames, each an ordinary frame (4-byte big-endian length, then the payload) whose
//! payload is raw bytes, not MessagePack:
//!
//! 1. broker → client `CHALLENGE`: `#CHALLENGE#{sha256}` then the broker's 32-byte nonce `Nb`;
//! 2. client → broker `RESPONSE`: `#RESPONSE#{sha256}`, the client's 32-byte nonce `Nc`, then
//!    `HMAC-SHA256(key, "xproc-client" ‖ Nb ‖ Nc)`;
//! 3. broker → client `WELCOME`: `#WELCOME#{sha256}` then `HMAC-SHA256(key, "xproc-server" ‖
//!    Nb ‖ Nc)` — or, when the client's MAC is wrong, an ordinary error reply (`id` 0, `Denied`)
//!    and the connection closes.
//!
//! Both sides prove the key over both nonces, so neither a recorded transcript (the other
//! side's nonce is fresh) nor a reflected one (the labels differ by direction) is accepted.
//! The key never crosses the wire. The `{sha256}` names the MAC, as CPython's
//! `multiprocessing.connection` does, so a later digest can be told apart.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bytes in each side's nonce.
pub const NONCE_LEN: usize = 32;
/// Bytes in an HMAC-SHA256 tag.
pub const MAC_LEN: usize = 32;

/// Starts the broker's challenge payload.
pub const CHALLENGE_TAG: &[u8] = b"#CHALLENGE#{sha256}";
/// Starts the client's response payload.
pub const RESPONSE_TAG: &[u8] = b"#RESPONSE#{sha256}";
/// Starts the broker's welcome payload.
pub const WELCOME_TAG: &[u8] = b"#WELCOME#{sha256}";

/// The label the client's MAC covers first.
pub const CLIENT_LABEL: &[u8] = b"xproc-client";
/// The label the broker's MAC covers first.
pub const SERVER_LABEL: &[u8] = b"xproc-server";

/// Payload bytes of a challenge.
pub const CHALLENGE_LEN: usize = CHALLENGE_TAG.len() + NONCE_LEN;
/// Payload bytes of a response.
pub const RESPONSE_LEN: usize = RESPONSE_TAG.len() + NONCE_LEN + MAC_LEN;
/// Payload bytes of a welcome.
pub const WELCOME_LEN: usize = WELCOME_TAG.len() + MAC_LEN;

/// Largest handshake frame either side accepts: a peer announcing more is not speaking this
/// handshake (an error reply, a few hundred bytes, must fit too).
pub const MAX_HANDSHAKE_FRAME: usize = 4096;

/// How often the broker sends a heartbeat (an empty frame, length 0) on an authenticated TCP
/// connection that has had no other output for this long.
pub const HEARTBEAT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a TCP peer may stay silent before the other side gives up on the link: three
/// heartbeat intervals. A client waiting for a reply hears at least a heartbeat every
/// [`HEARTBEAT_INTERVAL`]; the broker's unacknowledged bytes time out (`TCP_USER_TIMEOUT`)
/// after this long.
pub const LINK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(6);

/// A nonce.
pub type Nonce = [u8; NONCE_LEN];
/// A MAC.
pub type Tag = [u8; MAC_LEN];

fn mac(key: &[u8], label: &[u8], nb: &Nonce, nc: &Nonce) -> Hmac<Sha256> {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(label);
    m.update(nb);
    m.update(nc);
    m
}

/// The client's proof: `HMAC-SHA256(key, "xproc-client" ‖ Nb ‖ Nc)`.
///
/// # Example
///
/// ```
/// use xproc_protocol::auth::*;
///
/// let key = b"shared secret";
/// let (nb, nc) = ([1u8; NONCE_LEN], [2u8; NONCE_LEN]); // random in real use
/// // The broker sends a challenge with its nonce.
/// let mut wire = Vec::new();
/// challenge_frame(&mut wire, &nb);
/// assert_eq!(parse_challenge(&wire[4..]), Some(nb));
/// // The client answers with its nonce and proof of the key.
/// let mut answer = Vec::new();
/// response_frame(&mut answer, &nc, &client_mac(key, &nb, &nc));
/// let (got_nc, tag) = parse_response(&answer[4..]).unwrap();
/// assert!(verify_client(key, &nb, &got_nc, tag));
/// assert!(!verify_client(b"wrong key", &nb, &got_nc, tag));
/// // The broker proves the key back; the client checks it before sending anything else.
/// let mut welcome = Vec::new();
/// welcome_frame(&mut welcome, &server_mac(key, &nb, &nc));
/// assert!(verify_server(key, &nb, &nc, parse_welcome(&welcome[4..]).unwrap()));
/// ```
pub fn client_mac(key: &[u8], nb: &Nonce, nc: &Nonce) -> Tag {
    mac(key, CLIENT_LABEL, nb, nc)
        .finalize()
        .into_bytes()
        .into()
}

/// The broker's proof: `HMAC-SHA256(key, "xproc-server" ‖ Nb ‖ Nc)`.
pub fn server_mac(key: &[u8], nb: &Nonce, nc: &Nonce) -> Tag {
    mac(key, SERVER_LABEL, nb, nc)
        .finalize()
        .into_bytes()
        .into()
}

/// Whether `tag` is the client's proof, compared in constant time.
pub fn verify_client(key: &[u8], nb: &Nonce, nc: &Nonce, tag: &[u8]) -> bool {
    mac(key, CLIENT_LABEL, nb, nc).verify_slice(tag).is_ok()
}

/// Whether `tag` is the broker's proof, compared in constant time.
pub fn verify_server(key: &[u8], nb: &Nonce, nc: &Nonce, tag: &[u8]) -> bool {
    mac(key, SERVER_LABEL, nb, nc).verify_slice(tag).is_ok()
}

/// Appends the challenge frame (header included).
pub fn challenge_frame(out: &mut Vec<u8>, nb: &Nonce) {
    let payload = [CHALLENGE_TAG, nb].concat();
    crate::frame::encode_into(out, &payload);
}

/// Appends the response frame (header included).
pub fn response_frame(out: &mut Vec<u8>, nc: &Nonce, tag: &Tag) {
    let payload = [RESPONSE_TAG, nc, tag].concat();
    crate::frame::encode_into(out, &payload);
}

/// Appends the welcome frame (header included).
pub fn welcome_frame(out: &mut Vec<u8>, tag: &Tag) {
    let payload = [WELCOME_TAG, tag].concat();
    crate::frame::encode_into(out, &payload);
}

/// The broker's nonce from a challenge payload; `None` if it is not one.
pub fn parse_challenge(payload: &[u8]) -> Option<Nonce> {
    let rest = payload.strip_prefix(CHALLENGE_TAG)?;
    rest.try_into().ok()
}

/// The client's nonce and MAC from a response payload; `None` if it is not one.
pub fn parse_response(payload: &[u8]) -> Option<(Nonce, &[u8])> {
    let rest = payload.strip_prefix(RESPONSE_TAG)?;
    if rest.len() != NONCE_LEN + MAC_LEN {
        return None;
    }
    let (nc, tag) = rest.split_at(NONCE_LEN);
    Some((nc.try_into().ok()?, tag))
}

/// The broker's MAC from a welcome payload; `None` if it is not one.
pub fn parse_welcome(payload: &[u8]) -> Option<&[u8]> {
    let rest = payload.strip_prefix(WELCOME_TAG)?;
    (rest.len() == MAC_LEN).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_sides_agree_and_differ_by_direction() {
        let (nb, nc) = ([1u8; 32], [2u8; 32]);
        let c = client_mac(b"abc", &nb, &nc);
        assert!(verify_client(b"abc", &nb, &nc, &c));
        assert!(!verify_client(b"abd", &nb, &nc, &c));
        assert!(!verify_client(b"abc", &nc, &nb, &c));
        // A reflected tag is no proof in the other direction.
        assert!(!verify_server(b"abc", &nb, &nc, &c));
        assert!(verify_server(
            b"abc",
            &nb,
            &nc,
            &server_mac(b"abc", &nb, &nc)
        ));
    }

    #[test]
    fn frames_round_trip() {
        let mut out = Vec::new();
        challenge_frame(&mut out, &[7; 32]);
        assert_eq!(&out[..4], &(CHALLENGE_LEN as u32).to_be_bytes());
        assert_eq!(parse_challenge(&out[4..]), Some([7; 32]));
        out.clear();
        response_frame(&mut out, &[8; 32], &[9; 32]);
        let (nc, tag) = parse_response(&out[4..]).unwrap();
        assert_eq!((nc, tag), ([8; 32], &[9u8; 32][..]));
        assert!(parse_response(&out[4..out.len() - 1]).is_none());
        out.clear();
        welcome_frame(&mut out, &[3; 32]);
        assert_eq!(parse_welcome(&out[4..]), Some(&[3u8; 32][..]));
        assert!(parse_welcome(b"\x81\xa2id\x00").is_none());
    }

    /// RFC 4231 test case 2, to pin the MAC to the standard one.
    #[test]
    fn hmac_is_rfc_4231() {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
