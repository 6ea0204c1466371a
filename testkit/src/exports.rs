//! The exported functions of a crate's sources, read as text: for the
//! tests that check every FFI export's shape (its `extern "C-unwind"` ABI,
//! its panic boundary).

use std::path::{Path, PathBuf};

/// One `#[unsafe(no_mangle)]` function.
pub struct Export {
    /// The file it is in.
    pub file: PathBuf,
    /// From after the attribute to the body's `{`: doc-free signature.
    pub head: String,
    /// The body after its `{`, leading blank space and `//` comment lines
    /// skipped (e.g. a `// SAFETY:` note before the boundary).
    pub body: String,
}

impl Export {
    /// The signature, shortened for a failure message.
    pub fn shown(&self) -> String {
        let head: String = self.head.trim().chars().take(160).collect();
        format!("{}: {head}", self.file.display())
    }
}

/// Every exported function (`#[unsafe(no_mangle)]`; statics left out) in
/// the `.rs` files directly in `dir`, before each file's test module.
pub fn exports(dir: &Path) -> Vec<Export> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let file = entry.unwrap().path();
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let mut rest = text.split("#[cfg(test)]").next().unwrap();
        while let Some(pos) = rest.find("#[unsafe(no_mangle)]") {
            rest = &rest[pos + "#[unsafe(no_mangle)]".len()..];
            let open = rest.find('{').unwrap();
            let head = &rest[..open];
            if !head.contains(" fn ") {
                continue; // an exported static
            }
            let mut body = rest[open + 1..].trim_start();
            while body.starts_with("//") {
                body = body[body.find('\n').unwrap_or(body.len())..].trim_start();
            }
            found.push(Export {
                file: file.clone(),
                head: head.to_owned(),
                body: body.to_owned(),
            });
        }
    }
    found
}
