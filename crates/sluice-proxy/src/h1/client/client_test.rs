use super::UpConn;
use crate::runtime::cluster_state::ConnLimit;

#[tokio::test]
async fn an_idle_connection_lets_its_read_buffer_go_but_keeps_leftover_bytes() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s = tokio::net::TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let mut c = UpConn::new(s, ConnLimit::new(None).acquire().unwrap());
    // A small buffer (response heads, small bodies) is kept for the next request.
    c.buf.reserve(4096);
    c.shed_buffer();
    assert!(c.buf.capacity() >= 4096);
    // As after a large body: the buffer grew to the largest body read.
    c.buf.reserve(256 * 1024);
    c.grown = true;
    c.shed_buffer();
    assert_eq!(c.buf.capacity(), 0, "an idle pooled connection holds no read buffer");
    c.buf.extend_from_slice(b"extra");
    c.shed_buffer();
    assert_eq!(&c.buf[..], b"extra", "bytes the upstream sent past the response stay (not reusable)");
    assert!(!c.is_reusable());
}
