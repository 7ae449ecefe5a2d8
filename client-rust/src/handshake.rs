//! The client's side of the authkey handshake on TCP (docs/PROTOCOL.md §1.2): answer the
//! broker's challenge with our MAC over both nonces, then check the broker's MAC, so that each
//! side knows the other holds the key. Runs on the blocking stream before the connection is
//! shared.

use std::io::Read;
use std::time::Duration;

use xproc_protocol::auth as wire;
use xproc_protocol::frame::HEADER_LEN;
use xproc_protocol::ReplyFields;

use crate::error::{Error, Result};
use crate::transport::tcp::Stream;

/// Proves `key` to the broker at `endpoint` and checks its proof, waiting at most `timeout`
/// for each of its frames.
pub(crate) fn authenticate(
    s: &mut Stream,
    key: &[u8],
    timeout: Duration,
    endpoint: &str,
) -> Result<()> {
    let lost = |e: std::io::Error| {
        Error::Disconnected(format!("during the authkey handshake with {endpoint}: {e}"))
    };
    s.set_read_timeout(Some(timeout)).map_err(lost)?;
    let first = read_frame(s).map_err(lost)?;
    let Some(nb) = wire::parse_challenge(&first) else {
        return Err(refused(&first, endpoint));
    };
    let mut nc = [0u8; wire::NONCE_LEN];
    getrandom::fill(&mut nc)
        .map_err(|e| Error::Protocol(format!("no randomness for the handshake nonce: {e}")))?;
    let mut out = Vec::with_capacity(HEADER_LEN + wire::RESPONSE_LEN);
    wire::response_frame(&mut out, &nc, &wire::client_mac(key, &nb, &nc));
    s.write_all(&out).map_err(lost)?;
    let third = read_frame(s).map_err(lost)?;
    let Some(tag) = wire::parse_welcome(&third) else {
        return Err(refused(&third, endpoint));
    };
    if !wire::verify_server(key, &nb, &nc, tag) {
        return Err(Error::Denied(format!(
            "{endpoint} did not prove the authkey: it is not a broker holding our key"
        )));
    }
    s.set_read_timeout(None).map_err(lost)
}

/// The error a non-handshake frame carries (the broker refused us), or a protocol error.
fn refused(payload: &[u8], endpoint: &str) -> Error {
    match ReplyFields::decode(payload) {
        Ok(ReplyFields {
            error: Some(code),
            message,
            ..
        }) => Error::from_reply(code, message.unwrap_or("")),
        _ => Error::Protocol(format!(
            "{endpoint} does not speak the xproc TCP handshake (docs/PROTOCOL.md §1.2)"
        )),
    }
}

fn read_frame(s: &mut Stream) -> std::io::Result<Vec<u8>> {
    let mut h = [0u8; HEADER_LEN];
    s.read_exact(&mut h)?;
    let len = u32::from_be_bytes(h) as usize;
    if len > wire::MAX_HANDSHAKE_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a handshake frame of {len} bytes (not an xproc broker?)"),
        ));
    }
    let mut p = vec![0u8; len];
    s.read_exact(&mut p)?;
    Ok(p)
}
