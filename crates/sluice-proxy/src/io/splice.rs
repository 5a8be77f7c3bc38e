//! Zero-copy TCP relaying on Linux: each direction moves bytes socket → pipe → socket with
//! splice(2), so they never enter user space. Readiness comes from tokio (`readable`,
//! `writable`, `try_io`), so a relay costs no thread. The only unsafe code of the relay
//! path lives here: the two syscalls, on file descriptors owned by live objects.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bytes moved per splice call, and the pipe capacity asked for (F_SETPIPE_SZ).
const CHUNK: usize = 1 << 20;

/// A non-blocking pipe, closed on drop.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by no one else.
        let p = unsafe { Pipe { read: OwnedFd::from_raw_fd(fds[0]), write: OwnedFd::from_raw_fd(fds[1]) } };
        // SAFETY: fcntl on an open descriptor; failure (size limit) just keeps the default.
        unsafe { libc::fcntl(p.write.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
        Ok(p)
    }
}

/// One splice call; `Ok(0)` is end of input.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: both descriptors are open for the duration of the call (owned by the caller's
    // sockets and pipe); null offsets mean "use and advance the file position", as required
    // for sockets and pipes.
    let n = unsafe { libc::splice(from, std::ptr::null_mut(), to, std::ptr::null_mut(), len, flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Moves everything from `src` to `dst` until `src` ends, then half-closes `dst`.
/// Returns the bytes moved; `last` is stamped on every move (for the idle timeout).
pub async fn one_way(src: &TcpStream, dst: &TcpStream, last: &Rc<Cell<Instant>>) -> io::Result<u64> {
    let pipe = Pipe::new()?;
    let mut total = 0u64;
    loop {
        src.readable().await?;
        let n = match src.try_io(Interest::READABLE, || splice(src.as_raw_fd(), pipe.write.as_raw_fd(), CHUNK)) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        let mut left = n;
        while left > 0 {
            dst.writable().await?;
            match dst.try_io(Interest::WRITABLE, || splice(pipe.read.as_raw_fd(), dst.as_raw_fd(), left)) {
                Ok(m) => left -= m,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        total += n as u64;
        last.set(Instant::now());
    }
    // SAFETY-free half-close: shutdown(2) of the write side through std.
    let _ = socket2::SockRef::from(dst).shutdown(std::net::Shutdown::Write);
    Ok(total)
}
