//! The key store (a component the state holds): one 32-byte key per account and
//! the instance's, in a directory only the server's user can read, never inside a
//! backup. Backups seal each account's part with its key; erasure deletes the key.

use kinora_core::Id;
use std::path::{Path, PathBuf};

/// The key store: one 32-byte key per account, and the instance's. A directory
/// only the server's user can read; never inside a backup.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
}

impl KeyStore {
    pub fn open(dir: &Path) -> anyhow::Result<KeyStore> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir.join("accounts"))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(KeyStore { dir: dir.to_owned() })
    }

    fn path(&self, who: &str) -> PathBuf {
        if who == "instance" {
            self.dir.join("backup-instance.key")
        } else {
            self.dir.join("accounts").join(format!("{who}.key"))
        }
    }

    /// The key of `who` (`instance` or an account id), made on first use.
    pub fn key(&self, who: &str) -> anyhow::Result<[u8; 32]> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(who);
        if let Ok(bytes) = std::fs::read(&path) {
            return bytes.try_into().map_err(|_| anyhow::anyhow!("{}: not a 32-byte key", path.display()));
        }
        let key: [u8; 32] = rand::random();
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        std::io::Write::write_all(&mut f, &key)?;
        f.sync_all()?;
        Ok(key)
    }

    /// The key if it exists (a restore never makes keys).
    pub fn existing(&self, who: &str) -> Option<[u8; 32]> {
        std::fs::read(self.path(who)).ok().and_then(|b| b.try_into().ok())
    }

    /// Appends to the erasure journal kept beside the keys (outside every backup and
    /// outside the database, so a restore from any backup can apply it).
    pub fn append_journal(&self, subject: &str) -> anyhow::Result<()> {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("erasure-journal"))?;
        writeln!(f, "{subject}")?;
        f.sync_all()?;
        Ok(())
    }

    /// The keyed hashes of every erased account.
    pub fn journal(&self) -> std::collections::HashSet<String> {
        std::fs::read_to_string(self.dir.join("erasure-journal")).map(|s| s.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect()).unwrap_or_default()
    }

    /// Destroys an account's key: its data in every backup is unreadable from now on.
    pub fn destroy(&self, account: &Id) -> anyhow::Result<()> {
        let path = self.path(account.as_str());
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
            // Overwrite before unlinking, so the key is not left in the freed blocks.
            std::io::Write::write_all(&mut f, &[0u8; 32])?;
            f.sync_all()?;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        if let Ok(d) = std::fs::File::open(path.parent().unwrap_or(&self.dir)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}
