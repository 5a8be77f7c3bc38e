//! The `[acme] storage` folder: the account per CA directory and each name's certificate
//! and key, written owner-only (files 0600, folders 0700) and atomically (a temp file renamed
//! over the old one), so a crash never leaves half a key and instances sharing the folder
//! never read one.
//!
//! ```text
//! storage/accounts/<hash of the directory URL>.json   account key and URL
//! storage/certs/<name>/cert.pem                       full chain, leaf first
//! storage/certs/<name>/key.pem                        its private key
//! ```

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::certs::Issued;

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    pub fn new(root: &Path) -> Storage {
        Storage { root: root.to_path_buf() }
    }

    fn account_path(&self, directory: &str) -> PathBuf {
        let h = sluice_core::hash::hash_key(directory.as_bytes());
        self.root.join("accounts").join(format!("{h:016x}.json"))
    }

    pub fn cert_dir(&self, name: &str) -> PathBuf {
        self.root.join("certs").join(name)
    }

    /// The stored account credentials (JSON) for this CA, if any.
    pub fn load_account(&self, directory: &str) -> Option<String> {
        std::fs::read_to_string(self.account_path(directory)).ok()
    }

    pub fn save_account(&self, directory: &str, json: &str) -> Result<(), String> {
        write_private(&self.account_path(directory), json.as_bytes())
    }

    /// The stored certificate for `name`, if it parses and covers the name.
    pub fn load_cert(&self, name: &str) -> Option<Issued> {
        let dir = self.cert_dir(name);
        let chain = std::fs::read_to_string(dir.join("cert.pem")).ok()?;
        let key = std::fs::read_to_string(dir.join("key.pem")).ok()?;
        match Issued::parse(&chain, &key) {
            Ok(i) if i.covers(name) => Some(i),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(name, error = %e, "stored certificate unusable; ordering a new one");
                None
            }
        }
    }

    /// Key first: a reader that sees the new chain also sees its key.
    pub fn save_cert(&self, name: &str, issued: &Issued) -> Result<(), String> {
        let dir = self.cert_dir(name);
        write_private(&dir.join("key.pem"), issued.key_pem.as_bytes())?;
        write_private(&dir.join("cert.pem"), issued.chain_pem.as_bytes())
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().ok_or("no parent folder")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let tmp =
        dir.join(format!(".{}.{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("f"), std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn certificates_and_accounts_round_trip_owner_only() {
        let root = std::env::temp_dir().join(format!("sluice-acme-storage-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let s = Storage::new(&root);
        assert!(s.load_cert("a.test").is_none());
        let ck = rcgen::generate_simple_self_signed(vec!["a.test".to_string()]).unwrap();
        let issued = Issued::parse(&ck.cert.pem(), &ck.key_pair.serialize_pem()).unwrap();
        s.save_cert("a.test", &issued).unwrap();
        let back = s.load_cert("a.test").unwrap();
        assert_eq!(back.not_after, issued.not_after);
        assert!(s.load_cert("b.test").is_none());
        let mode = std::fs::metadata(s.cert_dir("a.test").join("key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "keys are owner-only");
        let dmode = std::fs::metadata(s.cert_dir("a.test")).unwrap().permissions().mode();
        assert_eq!(dmode & 0o777, 0o700);
        s.save_account("https://ca.test/dir", "{\"id\":1}").unwrap();
        assert_eq!(s.load_account("https://ca.test/dir").as_deref(), Some("{\"id\":1}"));
        assert!(s.load_account("https://other.test/dir").is_none(), "one account per CA");
        std::fs::create_dir_all(s.cert_dir("c.test")).unwrap();
        std::fs::write(s.cert_dir("c.test").join("cert.pem"), ck.cert.pem()).unwrap();
        std::fs::write(s.cert_dir("c.test").join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
        assert!(s.load_cert("c.test").is_none(), "a certificate for another name is not used");
    }
}
