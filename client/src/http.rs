//! The HTTP side of the client: one HTTP/1.1 connection per sync over a TCP stream that counts
//! every byte it carries ([`CountingIo`], which the bandwidth benchmark uses too), frames posted
//! to `/v1/sync`, and the `/v1/live` stream. The paths, headers and the live-record codec are
//! those of `tideline_protocol::http`.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tideline_protocol::http::{
    LiveRecordDecoder, BEARER_SCHEME, ERROR_HEADER, FRAME_CONTENT_TYPE, LIVE_PATH, SYNC_PATH,
};
use tideline_protocol::limits::FRAME_BYTES_MAX;
use tideline_protocol::wire::{decode_frame, ErrorCode, Frame};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::ClientError;

/// Longest wait for a TCP connection to the server, in milliseconds.
pub const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// Longest wait for one round's response, in milliseconds. The server answers only once the
/// round's events are durable, so this covers a disk sync as well as the network.
pub const ROUND_TIMEOUT_MS: u64 = 60_000;

/// A server URL, split into what a connection needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// The URL as given, for messages.
    text: String,
    host: String,
    port: u16,
    /// `host[:port]`, for the `Host` header.
    authority: String,
    /// A path prefix before `/v1/...`, without a trailing slash (often empty).
    base_path: String,
}

impl ServerUrl {
    /// Parses `http://host[:port][/prefix]`. Only plain HTTP is supported: put a TLS proxy in
    /// front of the server for anything beyond a trusted network.
    pub fn parse(text: &str) -> Result<ServerUrl, ClientError> {
        let invalid = |reason: &str| ClientError::ServerUrl {
            url: text.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = text
            .parse()
            .map_err(|error: hyper::http::uri::InvalidUri| invalid(&error.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(invalid(
                    "https is not supported by this client; use http:// to a trusted server or \
                     through a local TLS proxy",
                ))
            }
            _ => return Err(invalid("it must start with http://")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("it has no host"))?;
        if uri.query().is_some() {
            return Err(invalid("it may not have a query (`?...`)"));
        }
        if authority.as_str().contains('@') {
            return Err(invalid("it may not carry a user name or password"));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        Ok(ServerUrl {
            text: text.to_owned(),
            host: host.to_owned(),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str().to_owned(),
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn path(&self, endpoint: &str) -> String {
        format!("{}{endpoint}", self.base_path)
    }
}

/// Bytes that crossed one connection's socket, both ways, HTTP headers and chunk framing
/// included.
#[derive(Debug, Default)]
pub struct WireCounters {
    sent: AtomicU64,
    received: AtomicU64,
}

impl WireCounters {
    /// Bytes written to the socket.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Bytes read from the socket.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// A stream that adds what it reads and writes to a [`WireCounters`]: wrap a socket in it
/// before handing it to the HTTP library, and every byte that crosses the socket is counted,
/// headers and chunk framing included.
#[derive(Debug)]
pub struct CountingIo<T> {
    inner: T,
    counters: Arc<WireCounters>,
}

impl<T> CountingIo<T> {
    /// Wraps `inner`; `counters` is shared, so it can be read while the stream is in use.
    pub fn new(inner: T, counters: Arc<WireCounters>) -> CountingIo<T> {
        CountingIo { inner, counters }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let filled_before = buffer.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(context, buffer))?;
        let read = buffer.filled().len() - filled_before;
        self.counters
            .received
            .fetch_add(read as u64, Ordering::Relaxed);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.inner).poll_write(context, buffer))?;
        self.counters
            .sent
            .fetch_add(written as u64, Ordering::Relaxed);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = ready!(Pin::new(&mut self.inner).poll_write_vectored(context, buffers))?;
        self.counters
            .sent
            .fetch_add(written as u64, Ordering::Relaxed);
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

/// One HTTP/1.1 connection to the server, kept alive across the rounds of a sync.
pub(crate) struct Connection {
    url: ServerUrl,
    authorization: HeaderValue,
    sender: SendRequest<Full<Bytes>>,
    /// Drives the connection; ends when `sender` is dropped or the peer closes.
    driver: AbortOnDrop,
    counters: Arc<WireCounters>,
}

/// A task that is stopped when its handle is dropped: a connection dropped mid-sync (an error,
/// a cancelled watch) must not leave its driver running.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Connection {
    /// Opens a TCP connection to the server and starts HTTP/1.1 on it.
    pub(crate) async fn open(url: &ServerUrl, token: &str) -> Result<Connection, ClientError> {
        let mut authorization = HeaderValue::from_str(&format!("{BEARER_SCHEME} {token}"))
            .map_err(|_| ClientError::Token("it holds characters a header cannot carry".into()))?;
        authorization.set_sensitive(true);
        let connect_error = |source| ClientError::Connect {
            url: url.as_str().to_owned(),
            source,
        };
        let stream = tokio::time::timeout(
            Duration::from_millis(CONNECT_TIMEOUT_MS),
            TcpStream::connect((url.host.as_str(), url.port)),
        )
        .await
        .map_err(|_| ClientError::Timeout {
            what: "connecting to the server",
            timeout_ms: CONNECT_TIMEOUT_MS,
        })?
        .map_err(connect_error)?;
        // Frames are written whole; waiting to coalesce them only adds latency to each round.
        stream.set_nodelay(true).map_err(connect_error)?;
        let counters = Arc::new(WireCounters::default());
        let io = TokioIo::new(CountingIo::new(stream, Arc::clone(&counters)));
        let (sender, connection) = hyper::client::conn::http1::handshake(io).await?;
        let driver = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection to the server ended with an error");
            }
        });
        Ok(Connection {
            url: url.clone(),
            authorization,
            sender,
            driver: AbortOnDrop(driver),
            counters,
        })
    }

    /// Posts one encoded frame to `/v1/sync` and returns the status and the frame bytes of the
    /// answer.
    pub(crate) async fn post_frame(&mut self, frame: Vec<u8>) -> Result<Reply, ClientError> {
        let request = self
            .request(Method::POST, SYNC_PATH)
            .header(CONTENT_TYPE, FRAME_CONTENT_TYPE)
            .body(Full::new(Bytes::from(frame)))
            .expect("a request from valid parts");
        let exchange = async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            read_reply(response).await
        };
        tokio::time::timeout(Duration::from_millis(ROUND_TIMEOUT_MS), exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                what: "a sync round",
                timeout_ms: ROUND_TIMEOUT_MS,
            })?
    }

    /// Opens the `/v1/live` stream on this connection.
    pub(crate) async fn live(mut self) -> Result<LiveStream, ClientError> {
        let request = self
            .request(Method::GET, LIVE_PATH)
            .body(Full::new(Bytes::new()))
            .expect("a request from valid parts");
        let opened = async {
            self.sender.ready().await?;
            Ok::<_, ClientError>(self.sender.send_request(request).await?)
        };
        let response = tokio::time::timeout(Duration::from_millis(ROUND_TIMEOUT_MS), opened)
            .await
            .map_err(|_| ClientError::Timeout {
                what: "opening the live stream",
                timeout_ms: ROUND_TIMEOUT_MS,
            })??;
        if response.status() != StatusCode::OK {
            // A refusal carries an error frame like any other.
            let reply = read_reply(response).await?;
            return Err(reply.into_error());
        }
        Ok(LiveStream {
            body: response.into_body(),
            decoder: LiveRecordDecoder::new(),
            _connection: self,
        })
    }

    fn request(&self, method: Method, endpoint: &str) -> hyper::http::request::Builder {
        hyper::Request::builder()
            .method(method)
            .uri(self.url.path(endpoint))
            .header(HOST, &self.url.authority)
            .header(AUTHORIZATION, self.authorization.clone())
    }

    /// Closes the connection and returns the bytes that crossed it.
    pub(crate) async fn close(self) -> (u64, u64) {
        let Connection {
            sender,
            mut driver,
            counters,
            ..
        } = self;
        // Dropping the sender lets the driver finish once the connection is idle; it is idle
        // already, since every response was read whole.
        drop(sender);
        let _ = tokio::time::timeout(Duration::from_millis(1_000), &mut driver.0).await;
        (counters.sent(), counters.received())
    }
}

/// A response to a posted frame.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    /// The `X-Tideline-Error` header, if any.
    pub(crate) error_header: Option<String>,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The error this reply means when it is not a success: the server's error frame, or a
    /// description of what came instead.
    pub(crate) fn into_error(self) -> ClientError {
        match decode_frame(&self.body) {
            Ok(Frame::Error(error)) => ClientError::Server {
                code: error.code,
                message: error.message,
                status: self.status.as_u16(),
            },
            _ => {
                let detail = match &self.error_header {
                    Some(code) => format!("its {ERROR_HEADER} header says `{code}`"),
                    None => format!(
                        "its body starts with {:?}",
                        String::from_utf8_lossy(&self.body[..self.body.len().min(80)])
                    ),
                };
                if self.status == StatusCode::UNAUTHORIZED {
                    return ClientError::Server {
                        code: ErrorCode::Unauthorized,
                        message: detail,
                        status: self.status.as_u16(),
                    };
                }
                ClientError::UnexpectedResponse {
                    status: self.status.as_u16(),
                    detail,
                }
            }
        }
    }
}

async fn read_reply(response: hyper::Response<Incoming>) -> Result<Reply, ClientError> {
    let status = response.status();
    let error_header = response
        .headers()
        .get(ERROR_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = Limited::new(response.into_body(), FRAME_BYTES_MAX)
        .collect()
        .await
        .map_err(|error| match error.downcast::<hyper::Error>() {
            Ok(error) => ClientError::Transport(*error),
            Err(error) => ClientError::UnexpectedResponse {
                status: status.as_u16(),
                detail: format!(
                    "its body is over the frame limit of {FRAME_BYTES_MAX} bytes ({error})"
                ),
            },
        })?
        .to_bytes();
    Ok(Reply {
        status,
        error_header,
        body,
    })
}

/// The body of `/v1/live`: records of a 4-byte big-endian length and that many frame bytes.
pub(crate) struct LiveStream {
    body: Incoming,
    /// Reassembles the records from the body's chunks, wherever those are cut.
    decoder: LiveRecordDecoder,
    /// Keeps the connection's driver running while the stream is read.
    _connection: Connection,
}

impl LiveStream {
    /// The next record's frame bytes, or `None` when the server ended the stream.
    ///
    /// Cancel-safe: bytes read so far stay in the decoder if the future is dropped.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let refused =
            |error: tideline_protocol::http::LiveRecordError| ClientError::UnexpectedResponse {
                status: StatusCode::OK.as_u16(),
                detail: error.to_string(),
            };
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(refused)? {
                return Ok(Some(frame));
            }
            match self.body.frame().await {
                None => {
                    self.decoder.finish().map_err(refused)?;
                    return Ok(None);
                }
                Some(Err(error)) => return Err(ClientError::Transport(error)),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.decoder.push(&data);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_parse_or_say_why_not() {
        // Guards against a URL that would send requests to the wrong place.
        let url = ServerUrl::parse("http://127.0.0.1:7700").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 7700));
        assert_eq!(url.path(SYNC_PATH), "/v1/sync");
        let url = ServerUrl::parse("http://example.test/tideline/").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("example.test", 80));
        assert_eq!(url.path(SYNC_PATH), "/tideline/v1/sync");
        assert_eq!(url.authority, "example.test");
        let url = ServerUrl::parse("http://[::1]:7700").unwrap();
        assert_eq!(url.host, "::1");

        for bad in [
            "127.0.0.1:7700",
            "https://example.test",
            "ftp://example.test",
            "http://",
            "http://a@example.test",
            "http://example.test/?x=1",
        ] {
            let error = ServerUrl::parse(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_url", "{bad}");
        }
    }
}
