//! Atomic output files: write to a hidden temporary file in the destination directory,
//! fsync, rename over the destination, fsync the directory. A job killed at any point leaves
//! either the old file or the complete new one, never a half-written file.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::StoreError;

/// A file being written; it appears at its destination only on [`AtomicOutput::commit`].
/// Dropping it without committing removes the temporary file.
pub struct AtomicOutput {
    temp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl AtomicOutput {
    /// Starts writing `dest`; creates the parent directory if needed.
    pub fn create(dest: &Path) -> Result<Self, StoreError> {
        let parent = parent_dir(dest);
        std::fs::create_dir_all(&parent).map_err(|e| StoreError::io(&parent, e))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            // Outputs are ordinary files (tempfile's default of 0600 would hide them from
            // other users' SQL engines).
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let temp = builder
            .tempfile_in(&parent)
            .map_err(|e| StoreError::io(dest, e))?;
        Ok(Self {
            temp,
            dest: dest.to_path_buf(),
        })
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// A second handle on the temporary file, for writers that take ownership of a `File`.
    pub fn file(&self) -> Result<File, StoreError> {
        self.temp
            .as_file()
            .try_clone()
            .map_err(|e| StoreError::io(&self.dest, e))
    }

    /// Flushes the data to disk and moves the file into place.
    pub fn commit(self) -> Result<(), StoreError> {
        self.temp
            .as_file()
            .sync_all()
            .map_err(|e| StoreError::io(&self.dest, e))?;
        let dest = self.dest;
        self.temp
            .persist(&dest)
            .map_err(|e| StoreError::io(&dest, e.error))?;
        sync_dir(&parent_dir(&dest));
        Ok(())
    }
}

/// The directory a file is written in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Makes a rename durable. Best effort: some filesystems refuse to fsync directories.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn commit_moves_file_into_place_and_drop_removes_temp() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        {
            let out = AtomicOutput::create(&dest).unwrap();
            out.file().unwrap().write_all(b"partial").unwrap();
            // dropped without commit
        }
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let out = AtomicOutput::create(&dest).unwrap();
        out.file().unwrap().write_all(b"complete").unwrap();
        out.commit().unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"complete");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
