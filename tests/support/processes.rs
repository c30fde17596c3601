//! The `telemit` binary as a child process: starting `telemit pipe`, and its peak memory.

use std::process::{Child, Command, Stdio};

/// Waits for the child; its exit status and the peak resident memory seen, in bytes.
///
/// The peak is the kernel's high-water mark (`VmHWM`), which only grows, read until the
/// process is gone. `wait4`'s `ru_maxrss` would be wrong here: it counts the test process's
/// own memory, shared with the child between fork and exec.
pub fn wait_with_peak_rss(mut child: std::process::Child) -> (i32, u64) {
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Some(kib) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|status| {
                let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), peak_kib * 1024);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// `telemit pipe --quiet --to endpoint`, its stdin and stderr piped, stdout discarded.
pub fn spawn_pipe(endpoint: &telemit::Endpoint) -> Child {
    Command::new(env!("CARGO_BIN_EXE_telemit"))
        .args(["pipe", "--quiet", "--to", &endpoint.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `telemit args…` as a user runs it: `env` set and no other `TELEMIT_*` (or `RUST_LOG`)
/// variable of the test's own environment, `stdin` written from a thread (so that a large
/// input cannot deadlock against a full stdout, and a child that exits before reading it all
/// is its own business), `stderr` as given; stdout captured.
pub fn run_telemit(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
    stderr: Stdio,
) -> std::process::Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_telemit"));
    for (name, _) in std::env::vars() {
        if name.starts_with("TELEMIT_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    let mut child = command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}
