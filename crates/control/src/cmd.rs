//! Commands built argument by argument and shell-quoted by construction.
//!
//! A remote shell (sshd runs `$SHELL -c STRING`) only ever sees a string, so every
//! command crosses a shell. Nothing here pastes user data into that string: the
//! program, each argument, each environment value, the working directory and every
//! redirect target are quoted individually with `shlex`, and the only unquoted text
//! is the fixed syntax this module writes itself (`cd`, `&&`, `env`, `<`, `>>`).

use std::fmt;
use std::time::Duration;

use super::ControlError;

/// Where a command's standard output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stdout {
    /// Captured and returned in [`super::Output`].
    Capture,
    /// Appended to a file on the node (daemons log this way).
    Append(String),
    /// Discarded.
    Null,
}

/// One command to run on a node: a program and its arguments plus how to run it.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: Option<String>,
    stdin: Vec<u8>,
    stdin_null: bool,
    stdout: Stdout,
    stderr_to_stdout: bool,
    timeout: Option<Duration>,
    sudo: bool,
}

impl Cmd {
    /// A command running `program` (looked up in the node's `PATH` unless absolute).
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: Vec::new(),
            stdin_null: false,
            stdout: Stdout::Capture,
            stderr_to_stdout: false,
            timeout: None,
            sudo: true,
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for this command only (through `env`, so it
    /// works whatever the remote login shell is).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the command in `dir` on the node; the command fails if `dir` does not exist.
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Bytes written to the command's standard input (then end of file).
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.stdin = data.into();
        self
    }

    /// Reads standard input from /dev/null: daemons must not hold the channel open.
    pub fn stdin_null(mut self) -> Self {
        self.stdin_null = true;
        self
    }

    /// Appends standard output to `path` on the node instead of capturing it.
    pub fn stdout_append(mut self, path: impl Into<String>) -> Self {
        self.stdout = Stdout::Append(path.into());
        self
    }

    /// Discards standard output.
    pub fn stdout_null(mut self) -> Self {
        self.stdout = Stdout::Null;
        self
    }

    /// Sends standard error wherever standard output goes (`2>&1`).
    pub fn stderr_to_stdout(mut self) -> Self {
        self.stderr_to_stdout = true;
        self
    }

    /// Per-command timeout; without one the backend's default applies.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Whether to escalate with sudo when the login user is not root (default yes,
    /// as Jepsen's `su`); commands that must run as the login user turn it off.
    pub fn sudo(mut self, sudo: bool) -> Self {
        self.sudo = sudo;
        self
    }

    pub fn program(&self) -> &str {
        &self.program
    }

    pub fn get_stdin(&self) -> &[u8] {
        &self.stdin
    }

    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    pub fn wants_sudo(&self) -> bool {
        self.sudo
    }

    /// The shell command line, every piece quoted.
    pub fn render(&self) -> Result<String, ControlError> {
        let mut out = String::new();
        if let Some(dir) = &self.cwd {
            out.push_str("cd ");
            out.push_str(&quote(dir)?);
            out.push_str(" && ");
        }
        if !self.env.is_empty() {
            // `env --` so that a value can never be taken for an option of env.
            out.push_str("env --");
            for (k, v) in &self.env {
                if !valid_env_name(k) {
                    return Err(ControlError::InvalidArgument(format!(
                        "invalid environment variable name {k:?}"
                    )));
                }
                out.push(' ');
                out.push_str(&quote(&format!("{k}={v}"))?);
            }
            out.push(' ');
        }
        if self.program.is_empty() {
            return Err(ControlError::InvalidArgument("empty program name".into()));
        }
        out.push_str(&quote(&self.program)?);
        for a in &self.args {
            out.push(' ');
            out.push_str(&quote(a)?);
        }
        if self.stdin_null {
            out.push_str(" < /dev/null");
        }
        match &self.stdout {
            Stdout::Capture => {}
            Stdout::Append(path) => {
                out.push_str(" >> ");
                out.push_str(&quote(path)?);
            }
            Stdout::Null => out.push_str(" > /dev/null"),
        }
        if self.stderr_to_stdout {
            out.push_str(" 2>&1");
        }
        Ok(out)
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.render() {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{} {:?}", self.program, self.args),
        }
    }
}

/// Quotes one word for a POSIX shell. NUL bytes cannot be passed through argv at
/// all, so they are an error instead of being silently truncated.
pub fn quote(word: &str) -> Result<String, ControlError> {
    shlex::try_quote(word)
        .map(|c| c.into_owned())
        .map_err(|e| ControlError::InvalidArgument(format!("cannot quote {word:?}: {e}")))
}

fn valid_env_name(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_piece_quoted() {
        let c = Cmd::new("etcd")
            .arg("--name")
            .arg("n 1")
            .env("A", "x y")
            .cwd("/opt/my dir")
            .stdin_null()
            .stdout_append("/var/log/a b.log")
            .stderr_to_stdout();
        let r = c.render().unwrap();
        assert_eq!(
            r,
            "cd '/opt/my dir' && env -- 'A=x y' etcd --name 'n 1' < /dev/null >> '/var/log/a b.log' 2>&1"
        );
    }

    #[test]
    fn rejects_bad_env_names_and_nul() {
        assert!(Cmd::new("true").env("A;B", "1").render().is_err());
        assert!(Cmd::new("true").env("1A", "1").render().is_err());
        assert!(Cmd::new("echo").arg("a\0b").render().is_err());
        assert!(Cmd::new("").render().is_err());
    }
}
