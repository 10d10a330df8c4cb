//! A run's folder, its name and timestamp, and the `latest` links.

use serde::Serialize;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub base: PathBuf,
    pub name: String,
    pub stamp: String,
    pub dir: PathBuf,
}

/// A test name as one path component: `/` and control characters would escape or break
/// the layout.
pub fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    match s.trim() {
        "" | "." | ".." => "test".to_string(),
        t => t.to_string(),
    }
}

/// `20240101T120000.123Z`: UTC, sortable, no colons (safe on every filesystem).
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

impl RunDir {
    /// Creates `base/<name>/<timestamp>/` (a suffix is added if two runs start in the
    /// same millisecond) and points the links at it.
    pub fn create(base: &Path, name: &str) -> io::Result<RunDir> {
        let name = sanitize(name);
        let stamp0 = timestamp(SystemTime::now());
        let parent = base.join(&name);
        std::fs::create_dir_all(&parent)?;
        for i in 0..1000 {
            let stamp = if i == 0 {
                stamp0.clone()
            } else {
                format!("{stamp0}-{i}")
            };
            let dir = parent.join(&stamp);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let r = RunDir {
                        base: base.to_path_buf(),
                        name,
                        stamp,
                        dir,
                    };
                    r.update_links()?;
                    return Ok(r);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "too many runs with the same timestamp",
        ))
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes pretty JSON through a temporary file and a rename, so a reader never sees
    /// half a file.
    pub fn write_json<T: Serialize>(&self, file: &str, value: &T) -> io::Result<()> {
        let tmp = self.dir.join(format!(".{file}.tmp"));
        let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(tmp, self.dir.join(file))
    }

    /// `base/latest -> <name>/<stamp>` and `base/<name>/latest -> <stamp>`.
    pub fn update_links(&self) -> io::Result<()> {
        link(
            &Path::new(&self.name).join(&self.stamp),
            &self.base.join("latest"),
        )?;
        link(
            Path::new(&self.stamp),
            &self.base.join(&self.name).join("latest"),
        )
    }
}

/// Replaces `at` with a symlink to `target`, atomically (a rename over the old link).
fn link(target: &Path, at: &Path) -> io::Result<()> {
    let tmp = at.with_extension("tmp-link");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_links() {
        let base = tempfile::tempdir().unwrap();
        let a = RunDir::create(base.path(), "etcd register/x").unwrap();
        let b = RunDir::create(base.path(), "etcd register/x").unwrap();
        assert_ne!(a.dir, b.dir);
        assert_eq!(a.name, "etcd register_x");
        b.write_json("test.json", &serde_json::json!({"model": "cas-register"}))
            .unwrap();
        let via = base.path().join("latest/test.json");
        assert!(std::fs::read_to_string(via)
            .unwrap()
            .contains("cas-register"));
        assert!(base
            .path()
            .join("etcd register_x/latest/test.json")
            .exists());
    }

    #[test]
    fn timestamps() {
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_709_294_400_123);
        assert_eq!(timestamp(t), "20240301T120000.123Z");
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000Z");
    }
}
