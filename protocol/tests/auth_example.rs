//! The handshake example of docs/PROTOCOL.md §1.2, checked against `xproc_protocol::auth`, so
//! the document and the code cannot drift apart.

use xproc_protocol::auth;

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn auth_example_matches_the_spec() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"))
        .unwrap();
    let (nb, nc) = ([1u8; 32], [2u8; 32]);
    let client = auth::client_mac(b"abc", &nb, &nc);
    let server = auth::server_mac(b"abc", &nb, &nc);
    assert!(spec.contains(&format!("client tag: {}", hex(&client))));
    assert!(spec.contains(&format!("broker tag: {}", hex(&server))));
    let mut out = Vec::new();
    auth::challenge_frame(&mut out, &nb);
    assert_eq!(out.len() - 4, 51);
    assert!(spec.contains("1: 00 00 00 33  \"#CHALLENGE#{sha256}\""));
    out.clear();
    auth::response_frame(&mut out, &nc, &client);
    assert_eq!(&out[..4], &[0, 0, 0, 0x52]);
    assert!(spec.contains("2: 00 00 00 52  \"#RESPONSE#{sha256}\""));
    out.clear();
    auth::welcome_frame(&mut out, &server);
    assert_eq!(&out[..4], &[0, 0, 0, 0x31]);
    assert!(spec.contains("3: 00 00 00 31  \"#WELCOME#{sha256}\""));
    assert_eq!(
        (auth::CHALLENGE_LEN, auth::RESPONSE_LEN, auth::WELCOME_LEN),
        (51, 82, 49)
    );
}
