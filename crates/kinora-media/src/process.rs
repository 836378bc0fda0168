//! Runs ffmpeg and ffprobe as sandboxed subprocesses.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Where the media tools live.
#[derive(Debug, Clone)]
pub struct Tools {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
}

impl Default for Tools {
    fn default() -> Self {
        Tools { ffmpeg: "ffmpeg".into(), ffprobe: "ffprobe".into() }
    }
}

/// Resource limits for one subprocess.
#[derive(Debug, Clone, Copy)]
pub struct ProcessLimits {
    /// Wall-clock limit; the process is killed when it passes.
    pub wall: Duration,
    /// CPU seconds (RLIMIT_CPU).
    pub cpu_secs: u64,
    /// Address space in bytes (RLIMIT_AS).
    pub memory_bytes: u64,
    /// Largest file the process may write (RLIMIT_FSIZE).
    pub file_bytes: u64,
    /// Most bytes of stdout kept; more is an error (a probe has no reason to be huge).
    pub max_stdout: usize,
    /// Run in a new, empty network namespace (no interfaces, not even loopback).
    /// Needs CAP_SYS_ADMIN (root); see [`network_isolation_available`].
    pub isolate_network: bool,
    /// Run as this (uid, gid) with no supplementary groups, so the tool cannot read
    /// what the server's own user can (the database, originals, keys). Needs root;
    /// see [`sandbox_user`].
    pub run_as: Option<(u32, u32)>,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        ProcessLimits {
            wall: Duration::from_secs(60),
            cpu_secs: 600,
            memory_bytes: 4 << 30,
            file_bytes: 2 << 30,
            max_stdout: 4 << 20,
            isolate_network: false,
            run_as: None,
        }
    }
}

/// Whether subprocesses can be put in their own network namespace here (true when
/// running as root on Linux, false in most unprivileged containers).
pub async fn network_isolation_available() -> bool {
    let limits = ProcessLimits { wall: Duration::from_secs(10), isolate_network: true, ..ProcessLimits::default() };
    run(Path::new("true"), &[], &std::env::temp_dir(), limits).await.is_ok()
}

/// The unprivileged user media tools run as, when the server runs as root:
/// `nobody` (65534/65534). `None` when not root (the tools then run as the server's
/// own user, and the data directory's permissions are what protects it).
#[allow(unsafe_code)]
pub fn sandbox_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    (unsafe { libc::geteuid() } == 0).then_some((65534, 65534))
}

/// Why a subprocess did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("could not start {program}: {source}. Is it installed and on PATH (see `media.ffmpeg` in the config)?")]
    Spawn { program: String, source: std::io::Error },
    #[error("{program} ran longer than its {secs} s limit and was killed")]
    Timeout { program: String, secs: u64 },
    #[error("{program} exited with {status}: {stderr}")]
    Failed { program: String, status: String, stderr: String },
    #[error("{program} wrote more than {limit} bytes to stdout")]
    OutputTooLarge { program: String, limit: usize },
    #[error("i/o with {program}: {source}")]
    Io { program: String, source: std::io::Error },
}

/// Runs `program args...` in `cwd` under `limits`; returns stdout on success.
pub async fn run(program: &Path, args: &[OsString], cwd: &Path, limits: ProcessLimits) -> Result<Vec<u8>, ProcessError> {
    let name = program.display().to_string();
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    apply_rlimits(&mut cmd, limits);
    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn { program: name.clone(), source })?;
    let mut stdout = child.stdout.take().ok_or_else(|| io_err(&name, "no stdout"))?;
    let mut stderr = child.stderr.take().ok_or_else(|| io_err(&name, "no stderr"))?;
    let max = limits.max_stdout;
    let work = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let read_out = async {
            // Past the cap, keep draining (so the child is not blocked on a full
            // pipe) but keep nothing; the wall-clock limit bounds the drain.
            let mut buf = [0u8; 16 * 1024];
            let mut fits = true;
            loop {
                let n = stdout.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<bool, std::io::Error>(fits);
                }
                if out.len() + n > max {
                    fits = false;
                    out.clear();
                }
                if fits {
                    out.extend_from_slice(buf.get(..n).unwrap_or_default());
                }
            }
        };
        let read_err = async {
            // Keep only the tail of stderr: it is for the operator's log.
            let mut buf = [0u8; 8 * 1024];
            loop {
                let n = stderr.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<(), std::io::Error>(());
                }
                err.extend_from_slice(buf.get(..n).unwrap_or_default());
                if err.len() > 64 * 1024 {
                    err.drain(..err.len() - 16 * 1024);
                }
            }
        };
        let (fits, _) = tokio::try_join!(read_out, read_err)?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((fits, status, out, err))
    };
    let (fits, status, out, err) = match tokio::time::timeout(limits.wall, work).await {
        Err(_) => {
            // Dropping `child` (kill_on_drop) kills it; reap it explicitly anyway.
            return Err(ProcessError::Timeout { program: name, secs: limits.wall.as_secs() });
        }
        Ok(r) => r.map_err(|source| ProcessError::Io { program: name.clone(), source })?,
    };
    if !fits {
        return Err(ProcessError::OutputTooLarge { program: name, limit: max });
    }
    if !status.success() {
        let stderr = String::from_utf8_lossy(&err);
        let tail: String = stderr.trim().chars().rev().take(600).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(ProcessError::Failed { program: name, status: status.to_string(), stderr: tail });
    }
    Ok(out)
}

fn io_err(program: &str, msg: &str) -> ProcessError {
    ProcessError::Io { program: program.to_owned(), source: std::io::Error::other(msg.to_owned()) }
}

#[allow(unsafe_code)]
fn apply_rlimits(cmd: &mut Command, limits: ProcessLimits) {
    let set = move || -> std::io::Result<()> {
        let pairs = [
            (libc::RLIMIT_CPU, limits.cpu_secs),
            (libc::RLIMIT_AS, limits.memory_bytes),
            (libc::RLIMIT_FSIZE, limits.file_bytes),
            (libc::RLIMIT_CORE, 0),
            (libc::RLIMIT_NOFILE, 256),
            // Threads count as processes: ffmpeg's encoders need a few dozen; a
            // fork bomb needs more. (Root ignores it; the sandbox user does not.)
            (libc::RLIMIT_NPROC, 512),
        ];
        for (resource, value) in pairs {
            let lim = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: value as libc::rlim_t };
            // SAFETY: setrlimit is async-signal-safe and only touches the child's
            // own limits; `lim` lives for the duration of the call.
            if unsafe { libc::setrlimit(resource, &lim) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        // SAFETY: prctl(PR_SET_PDEATHSIG) is a plain syscall; it makes the child die
        // with the thread that spawned it, so a killed server leaves no ffmpeg behind.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: unshare is a plain syscall, async-signal-safe; it only changes the
        // child's own namespace membership.
        if limits.isolate_network && unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if let Some((uid, gid)) = limits.run_as {
            // SAFETY: setgroups/setgid/setuid are async-signal-safe syscalls on the
            // child's own credentials; groups first, the uid last (after it, the
            // others would be refused).
            unsafe {
                if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(())
    };
    // SAFETY: the closure calls only setrlimit (async-signal-safe) and allocates
    // nothing, as required between fork and exec.
    unsafe {
        cmd.pre_exec(set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: ffmpeg must not be able to read the database file.
    #[tokio::test]
    async fn regression_tools_run_as_another_user_and_cannot_read_the_servers_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let secret = dir.path().join("kinora.sqlite3");
        std::fs::write(&secret, b"the database").expect("write");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
        let args = [secret.clone().into_os_string()];
        let cat = |run_as| {
            let limits = ProcessLimits { run_as, ..lim(10_000) };
            run(Path::new("cat"), &args, dir.path(), limits)
        };
        assert_eq!(cat(None).await.expect("the server's own user reads it"), b"the database");
        match sandbox_user() {
            // As root (CI, containers), the sandboxed tool is refused.
            Some(user) => assert!(matches!(cat(Some(user)).await, Err(ProcessError::Failed { .. }))),
            // Not root: no other user to become; the tools run as ours.
            None => assert!(cat(None).await.is_ok()),
        }
    }

    fn lim(wall_ms: u64) -> ProcessLimits {
        ProcessLimits { wall: Duration::from_millis(wall_ms), ..ProcessLimits::default() }
    }

    #[tokio::test]
    async fn timeout_kills() {
        let dir = std::env::temp_dir();
        let start = std::time::Instant::now();
        let r = run(Path::new("sleep"), &["10".into()], &dir, lim(200)).await;
        assert!(matches!(r, Err(ProcessError::Timeout { .. })), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn argv_is_not_a_shell() {
        let dir = std::env::temp_dir();
        let out = run(Path::new("echo"), &["$(id); `id` | x".into()], &dir, lim(5000)).await.expect("echo runs");
        assert_eq!(String::from_utf8_lossy(&out), "$(id); `id` | x\n");
    }

    #[tokio::test]
    async fn file_size_limit_applies() {
        let dir = tempfile::tempdir().expect("tempdir");
        let limits = ProcessLimits { file_bytes: 4096, ..lim(5000) };
        let r = run(Path::new("dd"), &["if=/dev/zero".into(), "of=big".into(), "bs=1024".into(), "count=64".into()], dir.path(), limits).await;
        assert!(r.is_err(), "dd wrote past RLIMIT_FSIZE");
        let len = std::fs::metadata(dir.path().join("big")).map(|m| m.len()).unwrap_or(0);
        assert!(len <= 4096, "wrote {len} bytes");
    }

    #[tokio::test]
    async fn isolated_network_has_no_loopback() {
        // CI runs as root, where isolation must work; elsewhere it is reported absent.
        if !network_isolation_available().await {
            assert_ne!(unsafe_euid(), 0, "running as root but network isolation failed");
            return;
        }
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let limits = ProcessLimits { isolate_network: true, ..lim(5000) };
        let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected");
        let r = run(Path::new("bash"), &["-c".into(), script.into()], &std::env::temp_dir(), limits).await;
        assert!(r.is_err(), "connected from inside the namespace: {r:?}");
        l.set_nonblocking(true).expect("nonblocking");
        assert!(l.accept().is_err(), "the listener saw a connection");
    }

    #[allow(unsafe_code)]
    fn unsafe_euid() -> u32 {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    }

    #[tokio::test]
    async fn stdout_is_capped() {
        let dir = std::env::temp_dir();
        let limits = ProcessLimits { max_stdout: 1000, ..lim(5000) };
        let r = run(Path::new("head"), &["-c".into(), "100000".into(), "/dev/zero".into()], &dir, limits).await;
        assert!(matches!(r, Err(ProcessError::OutputTooLarge { .. })), "{r:?}");
    }
}
