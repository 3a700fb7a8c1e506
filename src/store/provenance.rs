//! Provenance recorded in the key-value metadata of every Parquet output.

use std::collections::BTreeMap;

use parquet::file::metadata::KeyValue;

/// Key-value provenance: tool version, command, parameters, time, and anything a job adds
/// (model, quantizer hash). Keys are prefixed with `faceflash.` in the file.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    entries: BTreeMap<String, String>,
}

impl Provenance {
    /// Provenance for `command`, stamped with the tool version and the current UTC time.
    pub fn new(command: &str) -> Self {
        let mut p = Self::default();
        p.set("tool", "faceflash-batch");
        p.set("tool_version", crate::TOOL_VERSION);
        p.set("command", command);
        p.set("created", &chrono::Utc::now().to_rfc3339());
        p
    }

    /// Sets one entry (the `faceflash.` prefix is added on write).
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.entries.insert(key.to_string(), value.to_string());
        self
    }

    /// Records the job's parameters as one JSON object under `params`.
    pub fn params(&mut self, params: &serde_json::Value) -> &mut Self {
        self.set("params", &params.to_string())
    }

    /// The entries as Parquet key-value metadata.
    pub fn to_key_values(&self) -> Vec<KeyValue> {
        self.entries
            .iter()
            .map(|(k, v)| KeyValue::new(format!("faceflash.{k}"), v.clone()))
            .collect()
    }
}
