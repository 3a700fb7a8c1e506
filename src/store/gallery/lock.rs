//! The writers' lock: `GALLERY/.lock`, held with an OS file lock (released by the kernel when
//! the process dies, so a killed job never leaves a stale lock) and holding the writer's pid
//! for the error message. Readers never take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::GalleryError;

/// File name of the lock inside a gallery.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive writer's lock on a gallery, released on drop.
#[derive(Debug)]
pub struct GalleryLock {
    _file: File,
}

impl GalleryLock {
    /// Takes the lock of the gallery `dir` or fails at once with the holder's pid.
    pub fn acquire(dir: &Path) -> Result<Self, GalleryError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| GalleryError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(GalleryError::Locked {
                    path: dir.to_path_buf(),
                    pid: if pid.is_empty() {
                        "?".into()
                    } else {
                        pid.into()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(GalleryError::io(&path, e)),
        }
        file.set_len(0)
            .and_then(|_| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .map_err(|e| GalleryError::io(&path, e))?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_writer_fails_fast_with_pid_and_lock_is_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = GalleryLock::acquire(dir.path()).unwrap();
        let err = GalleryLock::acquire(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("locked by pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        GalleryLock::acquire(dir.path()).unwrap();
    }
}
