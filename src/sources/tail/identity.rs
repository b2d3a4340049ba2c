//! Which file is which: a file's identity is its device and inode plus a fingerprint (a hash
//! of its first bytes), so an inode reused by a new file, or a file truncated and written
//! again (copytruncate), is not taken for the one a checkpoint was saved for.
//!
//! Stored in `checkpoints.identity` as `dev:ino:len:hash`, where `hash` covers the first
//! `len` bytes (at most [`FINGERPRINT_BYTES`]; fewer while the file is shorter).

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use sha2::{Digest, Sha256};

/// How many leading bytes the fingerprint covers once the file is that long.
pub const FINGERPRINT_BYTES: u64 = 1024;

/// Where a file lives on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inode {
    /// Device number.
    pub dev: u64,
    /// Inode number on that device.
    pub ino: u64,
}

impl Inode {
    /// The inode behind `meta`.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Inode {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A hash of a file's first `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// How many leading bytes the hash covers.
    pub len: u64,
    /// Hex of the first 16 bytes of their SHA-256.
    pub hash: String,
}

impl Fingerprint {
    /// Hashes the first `len` bytes of `file`; `None` if the file is shorter than that.
    pub fn read(file: &File, len: u64) -> io::Result<Option<Fingerprint>> {
        let mut buf = vec![0u8; len as usize];
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read_at(&mut buf[filled..], filled as u64)?;
            if n == 0 {
                return Ok(None);
            }
            filled += n;
        }
        let digest = Sha256::digest(&buf);
        Ok(Some(Fingerprint {
            len,
            hash: hex::encode(&digest[..16]),
        }))
    }

    /// The fingerprint over as many leading bytes as `size` allows, up to the maximum.
    pub fn current(file: &File, size: u64) -> io::Result<Fingerprint> {
        let len = size.min(FINGERPRINT_BYTES);
        Ok(Fingerprint::read(file, len)?.unwrap_or(Fingerprint {
            len: 0,
            hash: String::new(),
        }))
    }

    /// Whether `file` still starts with the bytes this fingerprint was taken over.
    pub fn still_matches(&self, file: &File) -> io::Result<bool> {
        Ok(Fingerprint::read(file, self.len)?.as_ref() == Some(self))
    }
}

/// A file's identity: inode plus fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Where the file is on disk.
    pub inode: Inode,
    /// What it starts with.
    pub fingerprint: Fingerprint,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Identity { inode, fingerprint } = self;
        write!(
            f,
            "{}:{}:{}:{}",
            inode.dev, inode.ino, fingerprint.len, fingerprint.hash
        )
    }
}

impl std::str::FromStr for Identity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("not a file identity (dev:ino:len:hash): {s:?}");
        let mut parts = s.splitn(4, ':');
        let mut number = || {
            parts
                .next()
                .and_then(|p| p.parse::<u64>().ok())
                .ok_or_else(bad)
        };
        let (dev, ino, len) = (number()?, number()?, number()?);
        let hash = parts.next().ok_or_else(bad)?.to_string();
        Ok(Identity {
            inode: Inode { dev, ino },
            fingerprint: Fingerprint { len, hash },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn identities_round_trip_and_notice_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        std::fs::write(&path, "first line\n").unwrap();
        let file = File::open(&path).unwrap();
        let meta = file.metadata().unwrap();
        let id = Identity {
            inode: Inode::of(&meta),
            fingerprint: Fingerprint::current(&file, meta.len()).unwrap(),
        };
        assert_eq!(id.fingerprint.len, 11);
        assert_eq!(id.to_string().parse::<Identity>().unwrap(), id);
        assert!(id.fingerprint.still_matches(&file).unwrap());
        // Appending keeps the prefix; truncating and writing something else does not.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"more\n")
            .unwrap();
        assert!(id.fingerprint.still_matches(&file).unwrap());
        std::fs::write(&path, "other line\n").unwrap();
        assert!(!id.fingerprint.still_matches(&file).unwrap());
        assert!("1:2:x".parse::<Identity>().is_err());
    }
}
