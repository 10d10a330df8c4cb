//! Jepsen's `log-file-pattern` checker: a database that logged a panic, an assertion or
//! data corruption has failed the test whatever its history says. The node logs a run
//! downloaded are searched for the user's patterns; any match makes the run invalid.
//!
//! Bounded: files are read a line at a time, lines are cut for the report, and only
//! the first [`MAX_MATCHES`] matches are kept (all are counted).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use faultline_checkers::Validity;
pub use faultline_store::{LogMatch, LogScan};
use regex::Regex;

/// Matches kept in the report; the count goes on.
pub const MAX_MATCHES: usize = 100;
/// A matching line is cut to this many bytes in the report.
const MAX_LINE: usize = 500;

/// Searches `files` (paths under `run_dir`) for any of `patterns`. A file that cannot
/// be read is an error naming it: a log we could not look at proves nothing.
pub fn scan(run_dir: &Path, files: &[PathBuf], patterns: &[Regex]) -> std::io::Result<LogScan> {
    let mut count = 0u64;
    let mut matches = Vec::new();
    for path in files {
        let name = path
            .strip_prefix(run_dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let file = std::fs::File::open(path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let mut reader = BufReader::new(file);
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            // Logs are not always UTF-8; a pattern still matches the readable part.
            let text = String::from_utf8_lossy(&buf);
            let text = text.trim_end_matches(['\n', '\r']);
            if let Some(re) = patterns.iter().find(|re| re.is_match(text)) {
                count += 1;
                if matches.len() < MAX_MATCHES {
                    matches.push(LogMatch {
                        file: name.clone(),
                        line: line_no,
                        pattern: re.as_str().to_string(),
                        text: cut(text, MAX_LINE),
                    });
                }
            }
        }
    }
    let explanation = matches.first().map(|m| {
        format!(
            "{count} log line(s) match the error patterns; the first: {}:{}: {}",
            m.file, m.line, m.text
        )
    });
    Ok(LogScan {
        valid: if count == 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        },
        patterns: patterns.iter().map(|r| r.as_str().to_string()).collect(),
        files: files.len(),
        count,
        matches,
        explanation,
    })
}

fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_name_file_and_line_and_make_the_run_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let n1 = dir.path().join("n1");
        std::fs::create_dir_all(&n1).unwrap();
        let a = n1.join("db.log");
        std::fs::write(&a, "started\nall good\npanic: runtime error\n").unwrap();
        let b = dir.path().join("n2.log");
        std::fs::write(&b, b"fine\n\xff\xfe binary junk\nassertion failed: x\n").unwrap();
        let patterns = [
            Regex::new("panic:").unwrap(),
            Regex::new("(?i)assertion failed").unwrap(),
        ];
        let r = scan(dir.path(), &[a, b], &patterns).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.count, 2);
        assert_eq!(r.files, 2);
        assert_eq!(r.matches[0].file, "n1/db.log");
        assert_eq!(r.matches[0].line, 3);
        assert_eq!(r.matches[1].line, 3);
        assert_eq!(r.matches[1].pattern, "(?i)assertion failed");
        assert!(r
            .explanation
            .unwrap()
            .contains("n1/db.log:3: panic: runtime error"));
    }

    #[test]
    fn clean_logs_are_valid_and_unreadable_ones_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        std::fs::write(&a, "x\n".repeat(1000)).unwrap();
        let p = [Regex::new("panic").unwrap()];
        let r = scan(dir.path(), std::slice::from_ref(&a), &p).unwrap();
        assert_eq!((r.valid, r.count), (Validity::Valid, 0));
        assert!(r.explanation.is_none());
        let e = scan(dir.path(), &[dir.path().join("gone.log")], &p).unwrap_err();
        assert!(e.to_string().contains("gone.log"), "{e}");
    }

    #[test]
    fn only_the_first_matches_are_kept_but_all_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        let long = "E".repeat(2000);
        std::fs::write(&a, format!("{long}\n").repeat(MAX_MATCHES + 5)).unwrap();
        let r = scan(dir.path(), &[a], &[Regex::new("^E").unwrap()]).unwrap();
        assert_eq!(r.count, MAX_MATCHES as u64 + 5);
        assert_eq!(r.matches.len(), MAX_MATCHES);
        assert!(r.matches[0].text.len() <= MAX_LINE + 3);
    }
}
