//! Test servers: the `tideline-server` binary as a child process ([`ServerProcess`]), and
//! [`tideline_server::run`] as a task in the test's own runtime ([`InProcessServer`]).
//!
//! Both listen on a free loopback port (the OS picks it), own a temporary data directory, wait
//! until `GET /healthz` answers before they return, and mint tokens with the data directory's
//! secret. Both stop their server when dropped, so a test that fails half-way leaves no server
//! running: the process is killed, the task is cancelled.
//!
//! This module needs the `server` feature, which makes the testkit depend on `tideline-server`.
//! The server's own tests depend on the testkit in turn; cargo allows that cycle because it
//! goes through a dev-dependency, and integration tests link the same `tideline-server` library
//! the testkit does.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;
use tideline_server::{auth, ServerConfig, ServerError, SECRET_FILE_NAME};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long a server may take to answer `/healthz` after it started, or to log its address.
/// Generous: the machine running the tests may be busy building, and opening the store replays
/// its write-ahead log after a crash.
const START_WAIT: Duration = Duration::from_secs(60);

/// How long to wait between two `/healthz` probes.
const HEALTHZ_PROBE_INTERVAL: Duration = Duration::from_millis(50);

/// How long the tokens minted by [`ServerProcess::token`] and [`InProcessServer::token`] stay
/// valid: longer than any test runs.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// The `tideline-server` binary running as a child process on a loopback port, on a temporary
/// data directory it owns. Dropping it kills the process.
#[derive(Debug)]
pub struct ServerProcess {
    binary: PathBuf,
    args: Vec<String>,
    /// `None` after [`ServerProcess::kill`], [`ServerProcess::terminate`] or
    /// [`ServerProcess::wait`] reaped the process, until [`ServerProcess::restart`].
    child: Option<Child>,
    addr: SocketAddr,
    /// Declared after `child` so that it is removed only once `Drop` has killed the process.
    data_dir: TempDir,
}

impl ServerProcess {
    /// Starts `binary` (for example `env!("CARGO_BIN_EXE_tideline-server")`) as
    /// `binary serve --listen 127.0.0.1:0 --data-dir <temporary> <args>` and waits until it
    /// answers `/healthz`.
    pub async fn start(binary: impl AsRef<Path>, args: &[&str]) -> ServerProcess {
        let data_dir = tempfile::tempdir().expect("a temporary data directory");
        let binary = binary.as_ref().to_owned();
        let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
        let (child, addr) = process_spawn(&binary, &args, data_dir.path()).await;
        ServerProcess {
            binary,
            args,
            child: Some(child),
            addr,
            data_dir,
        }
    }

    /// The address the current process listens on; it changes at each restart.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of the current process, like `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data directory, kept across restarts.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The id of the running process.
    pub fn pid(&self) -> u32 {
        self.child().id()
    }

    /// A token for `user` with `groups`, signed with the data directory's secret.
    pub fn token(&self, user: &str, groups: &[&str]) -> String {
        token_mint(self.data_dir(), user, groups)
    }

    /// Kills the process with SIGKILL, as a crash would, and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server process is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the server process")
    }

    /// Sends SIGTERM, which asks the server to finish its requests and stop, and waits for the
    /// process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server process is running");
        // std sends only SIGKILL; the `kill` command sends the signal a clean stop needs,
        // without unsafe code or another dependency.
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("the kill command runs");
        assert!(status.success(), "kill -TERM failed: {status:?}");
        child.wait().expect("reap the server process")
    }

    /// Waits for the process to exit, for example after a test killed it by its
    /// [`ServerProcess::pid`] from another thread.
    pub fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server process is running");
        child.wait().expect("reap the server process")
    }

    /// Starts the binary again on the same data directory with the same arguments, after
    /// killing the current process with SIGKILL if it still runs, and waits until it answers.
    /// The new process listens on a new port: read [`ServerProcess::addr`] again.
    pub async fn restart(&mut self) {
        if self.child.is_some() {
            self.kill();
        }
        let (child, addr) = process_spawn(&self.binary, &self.args, self.data_dir.path()).await;
        self.child = Some(child);
        self.addr = addr;
    }

    fn child(&self) -> &Child {
        self.child.as_ref().expect("the server process is running")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Errors mean the process is gone already, which is what we want.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the binary on `data_dir` with an OS-chosen loopback port, reads the address it logs,
/// and waits until it answers `/healthz`.
async fn process_spawn(binary: &Path, args: &[String], data_dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "info")
        // The test says what the server runs with, not the environment of whoever runs it.
        .env_remove("TIDELINE_CONFIG")
        .env_remove("TIDELINE_JWT_EDDSA_PUBLIC_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("start {}: {error}", binary.display()));
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    // Keeps draining the log so the server never blocks on a full pipe; forwards lines until
    // the address is found and the receiver is dropped.
    std::thread::spawn(move || {
        let mut sender = Some(sender);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if sender
                .as_ref()
                .is_some_and(|sender| sender.send(line).is_err())
            {
                sender = None;
            }
        }
    });
    let deadline = Instant::now() + START_WAIT;
    let mut log = Vec::new();
    let addr = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, receiver.recv()).await {
            Ok(Some(line)) => match listening_addr(&line) {
                Some(addr) => break addr,
                None => log.push(line),
            },
            Ok(None) => panic!(
                "the server exited before it listened; its log:\n{}",
                log.join("\n")
            ),
            Err(_) => panic!(
                "the server did not log its address within {START_WAIT:?}; its log:\n{}",
                log.join("\n")
            ),
        }
    };
    healthz_wait(addr).await;
    (child, addr)
}

/// The address in the server's `listening addr=...` log line, if `line` is that line.
pub fn listening_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("listening") {
        return None;
    }
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("addr="))
        .and_then(|addr| addr.parse().ok())
}

/// [`tideline_server::run`] as a task of the test's runtime, on a loopback port and a temporary
/// data directory it owns. Dropping it cancels the server.
#[derive(Debug)]
pub struct InProcessServer {
    config: ServerConfig,
    addr: SocketAddr,
    shutdown: CancellationToken,
    /// `None` once [`InProcessServer::stopped`] has waited for it.
    task: Option<JoinHandle<Result<(), ServerError>>>,
    data_dir: TempDir,
}

impl InProcessServer {
    /// Starts a server with the default configuration and waits until it answers.
    pub async fn start() -> InProcessServer {
        InProcessServer::start_with(|_| {}).await
    }

    /// Starts a server with the default configuration changed by `configure` (whose
    /// `data_dir` is the temporary directory) and waits until it answers.
    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> InProcessServer {
        let data_dir = tempfile::tempdir().expect("a temporary data directory");
        let mut config = ServerConfig::new(data_dir.path());
        configure(&mut config);
        let (addr, shutdown, task) = task_spawn(&config).await;
        InProcessServer {
            config,
            addr,
            shutdown,
            task: Some(task),
            data_dir,
        }
    }

    /// The address the server listens on; it changes at each restart.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, like `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data directory, kept across restarts.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// A token for `user` with `groups`, signed with the data directory's secret.
    pub fn token(&self, user: &str, groups: &[&str]) -> String {
        token_mint(self.data_dir(), user, groups)
    }

    /// The token that stops the server when cancelled, for tests of shutdown itself.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Whether `run` has returned.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits until `run` returns (after [`InProcessServer::shutdown`] was cancelled) and gives
    /// its result. Panics if `run` panicked, or if this was called before.
    pub async fn stopped(&mut self) -> Result<(), ServerError> {
        self.task
            .take()
            .expect("the server is running")
            .await
            .expect("the server task does not panic")
    }

    /// Stops the server and waits until `run` has returned cleanly.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        self.stopped().await.expect("the server stops cleanly");
    }

    /// Stops the server cleanly if it runs, then starts it again on the same data directory
    /// and configuration and waits until it answers. The new server listens on a new port:
    /// read [`InProcessServer::addr`] again.
    pub async fn restart(&mut self) {
        if self.task.is_some() {
            self.shutdown.cancel();
            self.stopped().await.expect("the server stops cleanly");
        }
        let (addr, shutdown, task) = task_spawn(&self.config).await;
        self.addr = addr;
        self.shutdown = shutdown;
        self.task = Some(task);
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        // The task stops on its own; a test that wants to wait for it calls `stop`.
        self.shutdown.cancel();
    }
}

/// Binds a loopback port, spawns `run` on it and waits until it answers.
async fn task_spawn(
    config: &ServerConfig,
) -> (
    SocketAddr,
    CancellationToken,
    JoinHandle<Result<(), ServerError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the listener's address");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(tideline_server::run(
        listener,
        config.clone(),
        shutdown.clone(),
    ));
    healthz_wait(addr).await;
    (addr, shutdown, task)
}

/// A token for `user` with `groups`, signed with the HS256 secret in `data_dir`, the way the
/// binary's `token` subcommand makes one.
pub fn token_mint(data_dir: &Path, user: &str, groups: &[&str]) -> String {
    let secret = auth::secret_load(&data_dir.join(SECRET_FILE_NAME))
        .expect("the server made its secret on first start");
    let groups: Vec<String> = groups.iter().map(|group| (*group).to_owned()).collect();
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    auth::mint_hs256(&secret, user, &groups, TOKEN_TTL, now_s).expect("mint a token")
}

/// Polls `GET /healthz` until the server at `addr` answers 200, for up to [`START_WAIT`].
pub async fn healthz_wait(addr: SocketAddr) {
    let deadline = Instant::now() + START_WAIT;
    while Instant::now() < deadline {
        if healthz_ok(addr).await {
            return;
        }
        tokio::time::sleep(HEALTHZ_PROBE_INTERVAL).await;
    }
    panic!("the server at {addr} did not answer /healthz within {START_WAIT:?}");
}

/// One `GET /healthz` over a fresh connection: whether it got a 200.
async fn healthz_ok(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    // Raw HTTP/1.1 keeps the testkit free of an HTTP client; `connection: close` makes the
    // server end the response with the connection, so reading to the end is enough.
    let request = "GET /healthz HTTP/1.1\r\nhost: tideline.test\r\nconnection: close\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let read = tokio::time::timeout(START_WAIT, stream.read_to_end(&mut reply)).await;
    matches!(read, Ok(Ok(_))) && reply.starts_with(b"HTTP/1.1 200")
}
