//! The images to embed: photo folders walked recursively, image files named directly, and
//! text files listing one image path per line (identity = the name of the image's parent
//! folder), or the records of a RecordIO file (identity = the label).

use std::path::{Path, PathBuf};

use super::VisionError;
use crate::store::recordio::RecordIoReader;
use crate::store::InputError;

/// File extensions taken from folders (compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"];

/// Extensions of list files (one image path per line, relative to the list's folder).
pub const LIST_EXTENSIONS: [&str; 2] = ["txt", "lst"];

/// Where an image's bytes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageSource {
    /// A file on disk.
    File(PathBuf),
    /// A record of the RecordIO file being embedded, at this byte offset.
    Record { offset: u64 },
}

/// One image to embed.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageItem {
    /// What the output's `path` column says (the path as found, or `train.rec#KEY`).
    pub path: String,
    pub source: ImageSource,
    pub identity: Option<String>,
}

impl ImageItem {
    /// An image file; its identity is its parent folder's name.
    pub fn file(path: PathBuf) -> ImageItem {
        let identity = path
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned());
        ImageItem {
            path: path.display().to_string(),
            source: ImageSource::File(path),
            identity,
        }
    }
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Expands the inputs, in the order given; a folder contributes its images sorted by path
/// (hidden `.x` entries skipped). A file named directly is taken whatever its extension (so
/// a non-image given on purpose lands in the errors table), unless it is a list file.
pub fn collect_images(inputs: &[PathBuf]) -> Result<Vec<ImageItem>, VisionError> {
    let mut items = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|_| VisionError::InputNotFound {
            path: input.clone(),
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found);
            found.sort();
            items.extend(found.into_iter().map(ImageItem::file));
        } else if has_extension(input, &LIST_EXTENSIONS) {
            let text = std::fs::read_to_string(input).map_err(|source| VisionError::Io {
                path: input.clone(),
                source,
            })?;
            let base = input.parent().unwrap_or(Path::new(""));
            for line in text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
            {
                let path = Path::new(line);
                let path = if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    base.join(path)
                };
                items.push(ImageItem::file(path));
            }
        } else {
            items.push(ImageItem::file(input.clone()));
        }
    }
    Ok(items)
}

/// The image records of a RecordIO file (MS1MV2 `train.rec`), in key order: `path` is
/// `FILE#KEY`, `identity` the integer label.
pub fn collect_records(rec: &Path) -> Result<Vec<ImageItem>, InputError> {
    let name = rec.display().to_string();
    Ok(RecordIoReader::open(rec)?
        .images()?
        .into_iter()
        .map(|r| ImageItem {
            path: format!("{name}#{}", r.key),
            source: ImageSource::Record { offset: r.offset },
            identity: Some(format!("{}", r.label as i64)),
        })
        .collect())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if has_extension(&path, &IMAGE_EXTENSIONS) {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_lists_and_files_expand_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for p in [
            "alice/b.JPG",
            "alice/a.png",
            "bob/x.webp",
            "bob/notes.txt",
            "bob/.hidden.jpg",
            "carol/c.TIFF",
        ] {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"x").unwrap();
        }
        std::fs::write(
            root.join("list.txt"),
            "# photos\ncarol/c.TIFF\n\nbob/x.webp\n",
        )
        .unwrap();
        let items = collect_images(&[
            root.join("alice"),
            root.join("bob"),
            root.join("list.txt"),
            root.join("bob/notes.txt"),
        ]);
        // notes.txt named directly is a list file; it lists nothing that exists, so it is an
        // input of one line "x" resolved beside it.
        let items = items.unwrap();
        let names: Vec<(String, Option<String>)> = items
            .iter()
            .map(|i| {
                (
                    Path::new(&i.path)
                        .strip_prefix(root)
                        .unwrap()
                        .display()
                        .to_string(),
                    i.identity.clone(),
                )
            })
            .collect();
        let id = |s: &str| Some(s.to_string());
        assert_eq!(
            names,
            vec![
                ("alice/a.png".into(), id("alice")),
                ("alice/b.JPG".into(), id("alice")),
                ("bob/x.webp".into(), id("bob")),
                ("carol/c.TIFF".into(), id("carol")),
                ("bob/x.webp".into(), id("bob")),
                ("bob/x".into(), id("bob")),
            ]
        );
        assert!(matches!(
            collect_images(&[root.join("nope")]),
            Err(VisionError::InputNotFound { .. })
        ));
    }
}
