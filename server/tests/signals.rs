//! Stopping the server by signal never depends on its log being written.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tideline_testkit::server::listening_addr;

/// How long a stop may take before the test calls it stuck: far more than a clean stop of an
/// idle server needs.
const STOP_WAIT: Duration = Duration::from_secs(30);

#[test]
fn sigterm_stops_the_server_after_its_stderr_closed() {
    // Guards against shutdown that depends on logging: when whatever read stderr has gone (a
    // `serve | tee` whose tee exited), the "signal received" log line fails, and that failure
    // must not swallow the signal. Before the fix, the server ignored every SIGTERM from then
    // on and only SIGKILL stopped it.
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tideline-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| listening_addr(&line));
    assert!(listening.is_some(), "the server logs its address");
    // Close the read end of the pipe: every later write to stderr fails with EPIPE.
    drop(lines);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        if started.elapsed() > STOP_WAIT {
            child.kill().unwrap();
            panic!("the server ignored SIGTERM for {STOP_WAIT:?} once its stderr had closed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "a clean stop exits 0: {exit:?}");
}
