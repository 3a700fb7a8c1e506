//! Model profiles and model files: which detector and recognizer a profile uses, where their
//! files live (`--models DIR`, `$FACEFLASH_MODELS`, or the project's `models/`), and the
//! SHA-256 check done on every load.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::VisionError;

/// SHA-256 of `models/yunet.onnx` as written by `scripts/fetch-models.sh`.
pub const YUNET_SHA256: &str = "e305a835f90c4c77e5e410bd77eb8585424645abaa92d795c7bceb68a8a519ee";
/// SHA-256 of `models/sface.onnx` as written by `scripts/fetch-models.sh`.
pub const SFACE_SHA256: &str = "ab872eaae25a7323ed1b7d90a3b2294d187664174c9912623e99dc68bc15326f";

/// How the recognizer wants its 112×112 RGB input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InputScale {
    /// Raw 0–255 values (the model normalises itself: SFace).
    Raw,
    /// `(x − 127.5) / 127.5` (ArcFace).
    Centered,
}

/// A detector + recognizer pair and how to feed them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// YuNet + SFace (128-d), fetched from PyPI by `scripts/fetch-models.sh`: the default.
    Sface,
    /// YuNet + a user-supplied ArcFace `w600k_r50.onnx` (512-d).
    Arcface,
}

impl Profile {
    /// Parses `sface` or `arcface`.
    pub fn parse(name: &str) -> Result<Profile, VisionError> {
        match name.to_ascii_lowercase().as_str() {
            "sface" => Ok(Profile::Sface),
            "arcface" => Ok(Profile::Arcface),
            _ => Err(VisionError::UnknownProfile(name.to_string())),
        }
    }

    /// The name recorded in the `model` column.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Sface => "sface",
            Profile::Arcface => "arcface",
        }
    }

    /// File names of the detector and the recognizer inside the models directory.
    pub fn file_names(self) -> (&'static str, &'static str) {
        match self {
            Profile::Sface => ("yunet.onnx", "sface.onnx"),
            Profile::Arcface => ("yunet.onnx", "w600k_r50.onnx"),
        }
    }

    /// How the recognizer's input is scaled.
    pub fn input_scale(self) -> InputScale {
        match self {
            Profile::Sface => InputScale::Raw,
            Profile::Arcface => InputScale::Centered,
        }
    }
}

/// The model files of a profile, checked against their SHA-256 sums.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub profile: Profile,
    pub detector: PathBuf,
    pub detector_sha256: String,
    pub recognizer: PathBuf,
    pub recognizer_sha256: String,
}

impl ModelFiles {
    /// Finds and verifies the profile's files in `dir` (or the default models directory).
    /// The bundled YuNet and SFace must match their pinned sums; a user-supplied model must
    /// match its line in `dir/SHA256SUMS` when listed there.
    pub fn locate(profile: Profile, dir: Option<&Path>) -> Result<ModelFiles, VisionError> {
        let dir = dir
            .map(Path::to_path_buf)
            .unwrap_or_else(default_models_dir);
        let (det, rec) = profile.file_names();
        let listed = read_sums(&dir.join("SHA256SUMS"));
        let check = |name: &str, pinned: Option<&str>| -> Result<(PathBuf, String), VisionError> {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(VisionError::ModelMissing { path });
            }
            let actual = sha256_file(&path)?;
            let expected = pinned.map(str::to_string).or_else(|| {
                listed
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, s)| s.clone())
            });
            match expected {
                Some(expected) if expected != actual => Err(VisionError::ModelChecksum {
                    path,
                    expected,
                    actual,
                }),
                _ => Ok((path, actual)),
            }
        };
        let (detector, detector_sha256) = check(det, Some(YUNET_SHA256))?;
        let pinned = match profile {
            Profile::Sface => Some(SFACE_SHA256),
            Profile::Arcface => None,
        };
        let (recognizer, recognizer_sha256) = check(rec, pinned)?;
        Ok(ModelFiles {
            profile,
            detector,
            detector_sha256,
            recognizer,
            recognizer_sha256,
        })
    }
}

/// `$FACEFLASH_MODELS`, else `models/` in the working directory, else `models/` in the
/// project the executable was built in (`target/<profile>/faceflash-batch` → `../../models`).
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FACEFLASH_MODELS") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models");
    if local.is_dir() {
        return local;
    }
    project_dirs()
        .into_iter()
        .map(|p| p.join("models"))
        .find(|p| p.is_dir())
        .unwrap_or(local)
}

/// Ancestors of the running executable (where `models/` and `.venv/` of a checkout live).
pub(crate) fn project_dirs() -> Vec<PathBuf> {
    std::env::current_exe()
        .ok()
        .map(|exe| {
            exe.ancestors()
                .skip(1)
                .take(4)
                .map(Path::to_path_buf)
                .collect()
        })
        .unwrap_or_default()
}

fn read_sums(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let sum = parts.next()?;
            let name = parts.next()?.trim_start_matches('*');
            Some((name.to_string(), sum.to_ascii_lowercase()))
        })
        .collect()
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String, VisionError> {
    let io = |source| VisionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse_and_unknown_is_an_error() {
        assert_eq!(Profile::parse("SFace").unwrap(), Profile::Sface);
        assert_eq!(Profile::parse("arcface").unwrap(), Profile::Arcface);
        assert!(matches!(
            Profile::parse("vgg"),
            Err(VisionError::UnknownProfile(_))
        ));
    }

    #[test]
    fn a_model_that_differs_from_its_listed_sum_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("yunet.onnx"), b"not yunet").unwrap();
        let err = ModelFiles::locate(Profile::Sface, Some(dir.path())).unwrap_err();
        assert!(matches!(err, VisionError::ModelChecksum { .. }), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = ModelFiles::locate(Profile::Sface, Some(empty.path())).unwrap_err();
        assert!(matches!(err, VisionError::ModelMissing { .. }), "{err}");
    }
}
