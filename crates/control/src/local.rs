//! A [`Remote`] that runs "node" commands on the controller itself.
//!
//! Used for single-machine setups and to test the layers above the control plane
//! without SSH. Commands run through `sh -c` exactly as sshd would run them, so
//! quoting is exercised the same way. Sudo is not applied: the commands run as
//! the controller's user.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Cmd, ControlError, ExitStatus, Node, Output, Remote};

/// Bounded copy depth: a symlink loop or a pathological tree must not hang us.
const MAX_DEPTH: usize = 64;

pub struct LocalRemote {
    node: Node,
    default_timeout: Duration,
}

impl LocalRemote {
    pub fn new(node: Node, default_timeout: Duration) -> Self {
        LocalRemote {
            node,
            default_timeout,
        }
    }

    fn err(&self, detail: impl Into<String>) -> ControlError {
        ControlError::Local {
            node: self.node.name.clone(),
            detail: detail.into(),
        }
    }
}

impl Remote for LocalRemote {
    fn node(&self) -> &Node {
        &self.node
    }

    fn exec(&self, cmd: &Cmd) -> Result<Output, ControlError> {
        let line = cmd.render()?;
        let timeout = cmd.get_timeout().unwrap_or(self.default_timeout);
        tracing::debug!(node = %self.node.name, cmd = %line, "local exec");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group, so a timeout kills the whole pipeline.
            .process_group(0)
            .spawn()
            .map_err(|e| self.err(format!("cannot spawn sh for {line}: {e}")))?;
        let pid = child.id() as libc::pid_t;
        let stdin_data = cmd.get_stdin().to_vec();
        // Writer and readers on their own threads: a command that fills its
        // stdout pipe before reading stdin must not deadlock us. They are
        // detached (not scoped) because a daemon started by the command may
        // inherit the pipes and keep them open long after the command exits.
        if let Some(mut w) = child.stdin.take() {
            std::thread::spawn(move || {
                let _ = w.write_all(&stdin_data);
            });
        }
        let (otx, orx) = std::sync::mpsc::channel();
        let (etx, erx) = std::sync::mpsc::channel();
        if let Some(mut o) = child.stdout.take() {
            std::thread::spawn(move || {
                let _ = otx.send(read_all(&mut o));
            });
        }
        if let Some(mut e) = child.stderr.take() {
            std::thread::spawn(move || {
                let _ = etx.send(read_all(&mut e));
            });
        }
        let deadline = Instant::now() + timeout;
        let mut status = None;
        let mut sleep = Duration::from_millis(1);
        loop {
            match child.try_wait() {
                Ok(Some(st)) => {
                    status = Some(st);
                    break;
                }
                Ok(None) => {}
                Err(_) => break,
            }
            if Instant::now() >= deadline {
                // SAFETY: plain syscall on the process group we created.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
                let _ = child.wait();
                break;
            }
            std::thread::sleep(sleep);
            sleep = (sleep * 2).min(Duration::from_millis(20));
        }
        let grace = Duration::from_secs(2);
        let out = orx.recv_timeout(grace).unwrap_or_default();
        let err = erx.recv_timeout(grace).unwrap_or_default();
        let stdout = String::from_utf8_lossy(&out).into_owned();
        let stderr = String::from_utf8_lossy(&err).into_owned();
        match status {
            Some(st) => {
                use std::os::unix::process::ExitStatusExt;
                let status = match (st.code(), st.signal()) {
                    (Some(c), _) => ExitStatus::Code(c),
                    (None, Some(sig)) => ExitStatus::Signal(sig.to_string()),
                    (None, None) => ExitStatus::Code(-1),
                };
                Ok(Output {
                    status,
                    stdout,
                    stderr,
                })
            }
            None => Err(ControlError::Timeout {
                node: self.node.name.clone(),
                cmd: line,
                timeout,
                stdout,
                stderr,
            }),
        }
    }

    fn upload(&self, local: &Path, remote: &str) -> Result<(), ControlError> {
        copy_tree(local, Path::new(remote), 0).map_err(|e| ControlError::Transfer {
            node: self.node.name.clone(),
            op: "upload",
            local: local.to_path_buf(),
            remote: remote.to_string(),
            detail: e.to_string(),
        })
    }

    fn download(&self, remote: &str, local: &Path) -> Result<(), ControlError> {
        copy_tree(Path::new(remote), local, 0).map_err(|e| ControlError::Transfer {
            node: self.node.name.clone(),
            op: "download",
            local: local.to_path_buf(),
            remote: remote.to_string(),
            detail: e.to_string(),
        })
    }
}

fn read_all<R: Read>(r: &mut R) -> Vec<u8> {
    let mut buf = Vec::new();
    // Capped so a runaway command cannot exhaust the controller's memory.
    let _ = r.take(super::ssh::MAX_CAPTURE as u64).read_to_end(&mut buf);
    buf
}

/// Copies a file or a directory tree (regular files and directories; modes kept).
pub(crate) fn copy_tree(from: &Path, to: &Path, depth: usize) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(std::io::Error::other(format!(
            "directory tree deeper than {MAX_DEPTH} at {}",
            from.display()
        )));
    }
    let meta = std::fs::metadata(from)?;
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), depth + 1)?;
        }
        std::fs::set_permissions(to, meta.permissions())?;
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> LocalRemote {
        LocalRemote::new(Node::new("local", "localhost", 22), Duration::from_secs(10))
    }

    /// Hostile arguments survive a real `sh -c` byte for byte.
    #[test]
    fn hostile_arguments_round_trip_through_sh() {
        let hostile = [
            "plain",
            "with space",
            "single ' quote",
            "double \" quote",
            "$(touch /tmp/faultline-pwned)",
            "`id`",
            "${HOME}",
            "new\nline",
            "back\\slash",
            "semi; rm -rf /nonexistent",
            "glob *",
            "-n",
            "",
            "tab\there",
            "unicode ✓ ü",
            "'\"'\"'",
            "!bang",
            "#comment",
            "a&&b||c|d>e<f",
        ];
        let cmd = Cmd::new("printf").arg("%s\\0").args(hostile);
        let out = remote().run(&cmd).unwrap();
        let got: Vec<&str> = out.stdout.split('\0').collect();
        assert_eq!(&got[..hostile.len()], &hostile[..]);
        assert!(!Path::new("/tmp/faultline-pwned").exists());
    }

    #[test]
    fn hostile_env_and_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let weird = dir.path().join("it's a \"dir\" $(x)\n");
        std::fs::create_dir(&weird).unwrap();
        let cmd = Cmd::new("sh")
            .arg("-c")
            .arg("printf '%s|%s' \"$V\" \"$(pwd)\"")
            .env("V", "$(echo injected) 'q' \"d\"\nnl")
            .cwd(weird.to_str().unwrap());
        let out = remote().run(&cmd).unwrap();
        // $(pwd) strips the trailing newline of the directory name.
        assert_eq!(
            out.stdout,
            format!(
                "$(echo injected) 'q' \"d\"\nnl|{}",
                weird.to_str().unwrap().trim_end_matches('\n')
            )
        );
    }

    #[test]
    fn stdin_exit_status_and_stderr() {
        let r = remote();
        let out = r.run(&Cmd::new("cat").stdin("hello\nworld")).unwrap();
        assert_eq!(out.stdout, "hello\nworld");
        let err = r
            .run(&Cmd::new("sh").arg("-c").arg("echo oops >&2; exit 3"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("node local"), "{msg}");
        assert!(msg.contains("exit status 3"), "{msg}");
        assert!(msg.contains("oops"), "{msg}");
    }

    #[test]
    fn timeout_kills_the_command() {
        let start = Instant::now();
        let err = remote()
            .exec(
                &Cmd::new("sleep")
                    .arg("30")
                    .timeout(Duration::from_millis(200)),
            )
            .unwrap_err();
        assert!(matches!(err, ControlError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn upload_download_tree() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("a"), b"A").unwrap();
        std::fs::write(src.join("sub/b"), b"B").unwrap();
        let r = remote();
        let remote_path = dir.path().join("remote");
        r.upload(&src, remote_path.to_str().unwrap()).unwrap();
        let back = dir.path().join("back");
        r.download(remote_path.to_str().unwrap(), &back).unwrap();
        assert_eq!(std::fs::read(back.join("sub/b")).unwrap(), b"B");
        assert_eq!(std::fs::read(back.join("a")).unwrap(), b"A");
    }
}
