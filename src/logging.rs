//! Logging: tracing to standard error (kept clear of the live progress line) and,
//! while a test runs, also to the run's `faultline.log` in the store.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use indicatif::ProgressBar;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The current run's `faultline.log`, if a test is running.
static FILE: Mutex<Option<BufWriter<File>>> = Mutex::new(None);
/// The progress line, if one is shown: log lines go above it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn filter() -> EnvFilter {
    EnvFilter::try_from_env("FAULTLINE_LOG").unwrap_or_else(|_| EnvFilter::new("info"))
}

pub fn init() {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(Sink::Stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false)
        .with_filter(filter());
    let file = tracing_subscriber::fmt::layer()
        .with_writer(Sink::File)
        .with_ansi(false)
        .with_thread_names(true)
        .with_filter(filter());
    tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .init();
}

/// Starts copying log lines to `path` (replacing any previous file).
pub fn log_to_file(path: &Path) -> io::Result<()> {
    let f = File::create(path)?;
    let mut slot = FILE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(mut old) = slot.take() {
        let _ = old.flush();
    }
    *slot = Some(BufWriter::new(f));
    Ok(())
}

/// Stops copying log lines to a file, flushing it.
pub fn close_file() {
    let mut slot = FILE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(mut f) = slot.take() {
        let _ = f.flush();
        let _ = f.get_ref().sync_data();
    }
}

/// Shows log lines above `bar` while it is set.
pub fn set_bar(bar: Option<ProgressBar>) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

#[derive(Clone, Copy)]
enum Sink {
    Stderr,
    File,
}

/// One event's text, written out whole when the formatter is done with it.
struct Line {
    sink: Sink,
    buf: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        match self.sink {
            Sink::Stderr => {
                let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let write = || {
                    let _ = io::stderr().write_all(&self.buf);
                };
                match bar {
                    Some(b) => b.suspend(write),
                    None => write(),
                }
            }
            Sink::File => {
                let mut slot = FILE.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(f) = slot.as_mut() {
                    // Flushed per line: the log, like the history, should survive a
                    // controller crash.
                    let _ = f.write_all(&self.buf).and_then(|_| f.flush());
                }
            }
        }
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line {
            sink: *self,
            buf: Vec::new(),
        }
    }
}
