//! Artifact bundles as `sentry-cli` uploads them: a zip archive (after an 8-byte `SYSB` header)
//! whose `manifest.json` describes each file under `files/` — its URL (`~/static/app.js`), its
//! type (minified source, source map, source) and headers (`debug-id`, `sourcemap`) — plus the
//! bundle's attributes (`debug_id`, `org`, `project`, `release`, `dist`, `note`). The same
//! format carries the legacy release bundles of `releases/{version}/assemble/`.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use serde::Deserialize;

/// The most one file of a bundle may inflate to: a bomb is refused, not unpacked.
pub const MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;

/// Why a bundle cannot be read; the message names what is wrong, for the uploader.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a zip archive: {0}")]
    NotZip(String),
    #[error("the bundle has no manifest.json")]
    NoManifest,
    #[error("manifest.json is invalid: {0}")]
    BadManifest(String),
    #[error("the bundle has no file {0}")]
    MissingFile(String),
    #[error("{path} cannot be read: {reason}")]
    BadFile { path: String, reason: String },
    #[error("{0} inflates past the limit of 256 MiB")]
    FileTooLarge(String),
}

/// What a file of a bundle is, as the manifest's `type` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// `minified_source`: the code the browser ran.
    MinifiedSource,
    /// `source_map`.
    SourceMap,
    /// `source`: an original source file.
    Source,
    /// `indexed_ram_bundle` (React Native), and any other type: kept, not used.
    Other,
}

impl FileType {
    fn from_manifest(name: Option<&str>) -> Self {
        match name {
            Some("minified_source") => FileType::MinifiedSource,
            Some("source_map") => FileType::SourceMap,
            Some("source") => FileType::Source,
            _ => FileType::Other,
        }
    }

    /// The manifest's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::MinifiedSource => "minified_source",
            FileType::SourceMap => "source_map",
            FileType::Source => "source",
            FileType::Other => "other",
        }
    }

    /// The number Sentry's API answers as `fileType` (its `SourceFileType` enum).
    pub fn sentry_code(self) -> u8 {
        match self {
            FileType::Source => 1,
            FileType::MinifiedSource => 2,
            FileType::SourceMap => 3,
            FileType::Other => 0,
        }
    }
}

/// One file of a bundle, as its manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// The path inside the archive (`files/_/_/app.min.js`).
    pub path: String,
    /// The URL it is served at, `~/` standing for any scheme and host (`~/app.min.js`).
    pub url: String,
    pub ty: FileType,
    /// Headers, names lowercased (`debug-id`, `sourcemap`).
    pub headers: BTreeMap<String, String>,
    /// The uncompressed size, from the archive's directory.
    pub size: u64,
}

impl BundleFile {
    /// The file's debug ID (lowercase, hyphenated), when it has a valid one.
    pub fn debug_id(&self) -> Option<String> {
        self.headers
            .get("debug-id")
            .and_then(|id| normalize_debug_id(id))
    }

    /// The `sourcemap` (or `x-sourcemap`) header: the URL of this file's map.
    pub fn sourcemap_reference(&self) -> Option<&str> {
        self.headers
            .get("sourcemap")
            .or_else(|| self.headers.get("x-sourcemap"))
            .map(String::as_str)
    }
}

/// A debug ID in the form Vigil indexes it: a UUID, lowercase and hyphenated (an appendix, as
/// `symbolic` allows after the UUID, is dropped: JavaScript debug IDs have none).
pub fn normalize_debug_id(id: &str) -> Option<String> {
    let id = id.trim();
    let uuid_part = id.get(..36).unwrap_or(id);
    let uuid_part = if uuid_part.len() == 36 {
        uuid_part
    } else {
        id.get(..32).unwrap_or(id)
    };
    uuid::Uuid::parse_str(uuid_part)
        .ok()
        .map(|uuid| uuid.hyphenated().to_string())
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    files: BTreeMap<String, ManifestFile>,
    #[serde(flatten)]
    attributes: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct ManifestFile {
    #[serde(rename = "type", default)]
    ty: Option<String>,
    #[serde(default)]
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// A parsed artifact bundle: its manifest read, its files ready to be inflated on demand.
pub struct ArtifactBundle {
    archive: zip::ZipArchive<Cursor<Vec<u8>>>,
    files: Vec<BundleFile>,
    attributes: BTreeMap<String, String>,
}

impl std::fmt::Debug for ArtifactBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactBundle")
            .field("files", &self.files)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl ArtifactBundle {
    /// Reads the archive's directory and manifest (files are inflated only when asked for).
    pub fn parse(bytes: Vec<u8>) -> Result<Self, BundleError> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
            .map_err(|err| BundleError::NotZip(err.to_string()))?;
        let manifest: Manifest = {
            let mut entry = match archive.by_name("manifest.json") {
                Ok(entry) => entry,
                Err(zip::result::ZipError::FileNotFound) => return Err(BundleError::NoManifest),
                Err(err) => return Err(BundleError::NotZip(err.to_string())),
            };
            if entry.size() > MAX_FILE_SIZE {
                return Err(BundleError::FileTooLarge("manifest.json".into()));
            }
            let mut text = Vec::with_capacity(entry.size() as usize);
            (&mut entry)
                .take(MAX_FILE_SIZE)
                .read_to_end(&mut text)
                .map_err(|err| BundleError::BadManifest(err.to_string()))?;
            serde_json::from_slice(&text)
                .map_err(|err| BundleError::BadManifest(err.to_string()))?
        };
        let mut files = Vec::with_capacity(manifest.files.len());
        for (path, file) in manifest.files {
            // The manifest names paths relative to `files/`, or (older writers) in full.
            let full_path = if path.starts_with("files/") {
                path
            } else {
                format!("files/{path}")
            };
            let size = match archive.by_name(&full_path) {
                Ok(entry) => entry.size(),
                Err(_) => return Err(BundleError::MissingFile(full_path)),
            };
            let headers = file
                .headers
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect();
            files.push(BundleFile {
                path: full_path,
                url: file.url,
                ty: FileType::from_manifest(file.ty.as_deref()),
                headers,
                size,
            });
        }
        let attributes = manifest
            .attributes
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(text) => Some((name, text)),
                serde_json::Value::Number(number) => Some((name, number.to_string())),
                _ => None,
            })
            .collect();
        Ok(ArtifactBundle {
            archive,
            files,
            attributes,
        })
    }

    /// The files the manifest lists, in path order.
    pub fn files(&self) -> &[BundleFile] {
        &self.files
    }

    /// A bundle attribute (`debug_id`, `org`, `project`, `release`, `dist`, `note`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    /// The bundle's own id: its `debug_id` attribute (a random UUID `sentry-cli` sets).
    pub fn bundle_id(&self) -> Option<String> {
        self.attribute("debug_id").and_then(normalize_debug_id)
    }

    /// The debug IDs of the bundle's files, with the type of each file that carries one.
    pub fn debug_ids(&self) -> Vec<(String, FileType)> {
        let mut ids: Vec<(String, FileType)> = self
            .files
            .iter()
            .filter_map(|file| file.debug_id().map(|id| (id, file.ty)))
            .collect();
        ids.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.as_str().cmp(b.1.as_str())));
        ids.dedup();
        ids
    }

    /// The file of type `ty` that carries `debug_id`.
    pub fn file_by_debug_id(&self, debug_id: &str, ty: FileType) -> Option<&BundleFile> {
        self.files
            .iter()
            .find(|file| file.ty == ty && file.debug_id().as_deref() == Some(debug_id))
    }

    /// The file served at `url` (as the manifest writes it: `~/app.min.js`, or a full URL).
    pub fn file_by_url(&self, url: &str) -> Option<&BundleFile> {
        self.files.iter().find(|file| file.url == url)
    }

    /// Inflates one file (bounded by [`MAX_FILE_SIZE`]).
    pub fn read(&mut self, path: &str) -> Result<Vec<u8>, BundleError> {
        let mut entry = self
            .archive
            .by_name(path)
            .map_err(|_| BundleError::MissingFile(path.to_owned()))?;
        if entry.size() > MAX_FILE_SIZE {
            return Err(BundleError::FileTooLarge(path.to_owned()));
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        (&mut entry)
            .take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut data)
            .map_err(|err| BundleError::BadFile {
                path: path.to_owned(),
                reason: err.to_string(),
            })?;
        if data.len() as u64 > MAX_FILE_SIZE {
            return Err(BundleError::FileTooLarge(path.to_owned()));
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A bundle as `sentry-cli` writes one: the `SYSB` header, then the zip.
    pub(crate) fn bundle_bytes(manifest: &str, files: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        out.write_all(b"SYSB\x02\0\0\0").unwrap();
        let mut zip = zip::ZipWriter::new(out);
        let options = zip::write::SimpleFileOptions::default();
        for (path, text) in files {
            zip.start_file(*path, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.start_file("manifest.json", options).unwrap();
        zip.write_all(manifest.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    const MANIFEST: &str = r#"{
        "files": {
            "files/_/_/app.min.js": {"url": "~/app.min.js", "type": "minified_source",
                "headers": {"Debug-Id": "C8A1F5A2-0C6B-4B4E-9D44-0F0E6B2B9B6A", "Sourcemap": "app.min.js.map"}},
            "files/_/_/app.min.js.map": {"url": "~/app.min.js.map", "type": "source_map",
                "headers": {"debug-id": "c8a1f5a2-0c6b-4b4e-9d44-0f0e6b2b9b6a"}}
        },
        "debug_id": "11111111-2222-3333-4444-555555555555",
        "org": "acme", "release": "1.0", "note": "ci"
    }"#;

    #[test]
    fn reads_the_manifest_and_the_files() {
        let bytes = bundle_bytes(
            MANIFEST,
            &[
                ("files/_/_/app.min.js", "function a(){}"),
                ("files/_/_/app.min.js.map", "{\"version\":3}"),
            ],
        );
        let mut bundle = ArtifactBundle::parse(bytes).unwrap();
        assert_eq!(bundle.files().len(), 2);
        assert_eq!(
            bundle.bundle_id().as_deref(),
            Some("11111111-2222-3333-4444-555555555555")
        );
        assert_eq!(bundle.attribute("release"), Some("1.0"));
        let id = "c8a1f5a2-0c6b-4b4e-9d44-0f0e6b2b9b6a";
        assert_eq!(
            bundle.debug_ids(),
            vec![
                (id.to_owned(), FileType::MinifiedSource),
                (id.to_owned(), FileType::SourceMap)
            ]
        );
        let minified = bundle
            .file_by_debug_id(id, FileType::MinifiedSource)
            .unwrap();
        assert_eq!(minified.sourcemap_reference(), Some("app.min.js.map"));
        let path = bundle.file_by_url("~/app.min.js.map").unwrap().path.clone();
        assert_eq!(bundle.read(&path).unwrap(), b"{\"version\":3}");
    }

    #[test]
    fn refuses_what_is_not_a_bundle() {
        assert!(matches!(
            ArtifactBundle::parse(b"not a zip".to_vec()),
            Err(BundleError::NotZip(_))
        ));
        let no_manifest = bundle_bytes("{}", &[]);
        let mut truncated = no_manifest.clone();
        truncated.truncate(no_manifest.len() / 2);
        assert!(ArtifactBundle::parse(truncated).is_err());
        let missing = bundle_bytes(MANIFEST, &[("files/_/_/app.min.js", "x")]);
        assert!(matches!(
            ArtifactBundle::parse(missing),
            Err(BundleError::MissingFile(path)) if path == "files/_/_/app.min.js.map"
        ));
        let bad = bundle_bytes("[1,2]", &[]);
        assert!(matches!(
            ArtifactBundle::parse(bad),
            Err(BundleError::BadManifest(_))
        ));
    }

    #[test]
    fn debug_ids_are_normalized() {
        assert_eq!(
            normalize_debug_id("C8A1F5A20C6B4B4E9D440F0E6B2B9B6A").as_deref(),
            Some("c8a1f5a2-0c6b-4b4e-9d44-0f0e6b2b9b6a")
        );
        assert_eq!(normalize_debug_id("nope"), None);
    }
}
