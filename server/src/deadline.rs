//! A socket whose writes have a deadline: a client that stops reading its responses cannot hold
//! a connection (and its slot under `connections_max`) for longer than the deadline.
//!
//! Without it, pipelined requests whose replies are never read fill the socket buffers, and the
//! server waits forever to write the next reply. With it, a write (or flush) that makes no
//! progress for the whole deadline fails with `TimedOut`, hyper ends the connection, and its
//! permit returns. A slow but moving reader is not affected: the clock restarts each time a
//! write makes progress.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Wraps a socket so that a write that stays blocked for `timeout` fails.
pub(crate) struct WriteDeadline<T> {
    inner: T,
    timeout: Duration,
    /// Set while a write is blocked: fires `timeout` after the write first blocked. Cleared by
    /// any write that makes progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> WriteDeadline<T> {
    /// `inner`, whose blocked writes fail after `timeout`.
    pub(crate) fn new(inner: T, timeout: Duration) -> WriteDeadline<T> {
        WriteDeadline {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Passes a finished write through and restarts the clock; turns a write that has been
    /// blocked for the whole deadline into `TimedOut`.
    fn deadline<R>(
        &mut self,
        context: &mut Context<'_>,
        poll: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(context) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the client read nothing for {} ms while a response waited to be written",
                    timeout.as_millis()
                ),
            ))),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(context, buffer)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(context, buffer);
        self.deadline(context, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(context, buffers);
        self.deadline(context, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(context);
        self.deadline(context, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(context);
        self.deadline(context, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_reads_fails_after_the_deadline() {
        // Guards against a non-reading client holding a connection forever: once the buffer
        // between the two ends is full, the next write must fail with TimedOut, not wait.
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut socket = WriteDeadline::new(ours, Duration::from_secs(5));
        let error = socket
            .write_all(&[7u8; 1024])
            .await
            .expect_err("the peer reads nothing");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_served() {
        // Guards against the deadline counting the whole response: each bit of progress
        // restarts it, so a reader slower than the deadline overall still gets everything.
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut socket = WriteDeadline::new(ours, Duration::from_secs(5));
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            let mut chunk = [0u8; 64];
            loop {
                tokio::time::sleep(Duration::from_secs(4)).await;
                let read = theirs.read(&mut chunk).await.expect("read");
                if read == 0 {
                    return received;
                }
                received.extend_from_slice(&chunk[..read]);
            }
        });
        socket
            .write_all(&[7u8; 1024])
            .await
            .expect("progress every 4 s");
        socket.shutdown().await.expect("shutdown");
        drop(socket);
        assert_eq!(reader.await.expect("reader").len(), 1024);
    }
}
