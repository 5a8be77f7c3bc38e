//! Reading the server name (SNI) from a TLS ClientHello without terminating TLS, for
//! passthrough routing (HAProxy's `req.ssl_sni`). Pure and defensive: any malformed or
//! truncated input is an error or "need more", never a panic (a fuzz target feeds it).

/// What the bytes read so far say.
#[derive(Debug, PartialEq, Eq)]
pub enum Sni {
    /// A complete ClientHello; its server name if it has one.
    Done(Option<String>),
    /// Not enough bytes yet: at least this many are needed in total.
    NeedMore(usize),
    /// Not a TLS ClientHello.
    NotTls,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(*b.get(at)?) << 8 | usize::from(*b.get(at + 1)?))
}

/// Parses the first TLS record of a connection.
pub fn parse(buf: &[u8]) -> Sni {
    if buf.len() < 5 {
        return if buf.first().is_some_and(|&t| t != 0x16) { Sni::NotTls } else { Sni::NeedMore(5) };
    }
    if buf[0] != 0x16 || buf[1] != 0x03 {
        return Sni::NotTls;
    }
    let Some(len) = be16(buf, 3) else { return Sni::NotTls };
    if buf.len() < 5 + len {
        return Sni::NeedMore(5 + len);
    }
    match hello_sni(&buf[5..5 + len]) {
        Some(name) => Sni::Done(name),
        None => Sni::NotTls,
    }
}

/// The server name inside a ClientHello handshake message (`None`: malformed).
fn hello_sni(h: &[u8]) -> Option<Option<String>> {
    if *h.first()? != 0x01 {
        return None;
    }
    let mut p = 4 + 2 + 32; // handshake header, client_version, random
    p += 1 + usize::from(*h.get(p)?); // session id
    p += 2 + be16(h, p)?; // cipher suites
    p += 1 + usize::from(*h.get(p)?); // compression methods
    if p >= h.len() {
        return Some(None); // no extensions
    }
    let end = (p + 2 + be16(h, p)?).min(h.len());
    p += 2;
    while p + 4 <= end {
        let (kind, len) = (be16(h, p)?, be16(h, p + 2)?);
        let body = h.get(p + 4..p + 4 + len)?;
        if kind == 0 {
            return server_name(body).map(Some);
        }
        p += 4 + len;
    }
    Some(None)
}

fn server_name(ext: &[u8]) -> Option<String> {
    let list_end = (2 + be16(ext, 0)?).min(ext.len());
    let mut p = 2;
    while p + 3 <= list_end {
        let len = be16(ext, p + 1)?;
        let name = ext.get(p + 3..p + 3 + len)?;
        if ext[p] == 0 {
            let s = std::str::from_utf8(name).ok()?;
            return Some(s.trim_end_matches('.').to_ascii_lowercase());
        }
        p += 3 + len;
    }
    None
}

/// A minimal ClientHello naming `host` (for tests and tools).
pub fn client_hello(host: &str) -> Vec<u8> {
    let be = |n: usize| (n as u16).to_be_bytes();
    let name = host.as_bytes();
    let mut list = vec![0u8]; // host_name
    list.extend_from_slice(&be(name.len()));
    list.extend_from_slice(name);
    let mut sni = be(list.len()).to_vec();
    sni.extend_from_slice(&list);
    let mut ext = vec![0, 0]; // server_name
    ext.extend_from_slice(&be(sni.len()));
    ext.extend_from_slice(&sni);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7u8; 32]); // random
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]); // no session id, one suite, null compression
    body.extend_from_slice(&be(ext.len()));
    body.extend_from_slice(&ext);
    let mut hs = vec![0x01, 0];
    hs.extend_from_slice(&be(body.len()));
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&be(hs.len()));
    rec.extend_from_slice(&hs);
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_server_name() {
        let hello = client_hello("A.Example.Test");
        assert_eq!(parse(&hello), Sni::Done(Some("a.example.test".into())));
        assert_eq!(parse(&hello[..3]), Sni::NeedMore(5));
        assert!(matches!(parse(&hello[..10]), Sni::NeedMore(n) if n == hello.len()));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Sni::NotTls);
    }

    #[test]
    fn garbage_never_panics() {
        let hello = client_hello("x.test");
        for cut in 0..hello.len() {
            let mut broken = hello.clone();
            broken[cut] ^= 0xFF;
            let _ = parse(&broken);
            let _ = parse(&hello[..cut]);
        }
    }
}
