//! Scratch directories and file systems, removed on drop.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::process::run;

/// A name unique to this run: `nr-TAG-PID-N`.
fn unique(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("nr-{tag}-{}-{n}", std::process::id()))
}

/// A fresh, empty, world-writable directory (tcpdump drops to user tcpdump
/// after opening the device and must still write there), removed with
/// everything in it on drop, panics included, unless `NETRING_KEEP` is set.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new directory whose name carries `tag`.
    pub fn new(tag: &str) -> TempDir {
        let d = unique(tag);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        TempDir(d)
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("NETRING_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The files in `dir` whose names start with `stem`, in the order a
/// rotating writer made them (`stem`, `stem1`, `stem2`, ...: by the number
/// after the stem).
pub fn rotated_files(dir: &Path, stem: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(stem))
        .collect();
    files.sort_by_key(|p| {
        let s = p.file_name().unwrap().to_str().unwrap();
        s.trim_start_matches(stem).parse::<u64>().unwrap_or(0)
    });
    files
}

/// Unmount `dir` (lazily, so a file still open does not keep it) and
/// remove it.
fn unmount(dir: &Path) {
    let c = CString::new(dir.to_str().unwrap()).unwrap();
    // SAFETY: umount2 on a NUL-terminated path; fails harmlessly if it was
    // never mounted.
    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    let _ = std::fs::remove_dir(dir);
}

/// A tmpfs of `kib` KiB mounted on a fresh directory `dir` (a small disk
/// that fills up); unmounted and removed on drop, panics included.
pub struct Tmpfs {
    /// The mount point: an empty directory.
    pub dir: PathBuf,
}

impl Tmpfs {
    /// Mount it (needs root).
    pub fn new(kib: u32) -> Tmpfs {
        let fs = Tmpfs {
            dir: unique("tmpfs"),
        };
        std::fs::create_dir_all(&fs.dir).unwrap();
        // From here on, Drop cleans up.
        let opts = format!("size={kib}k,mode=0700");
        let dir = fs.dir.to_str().unwrap();
        run("mount", &["-t", "tmpfs", "-o", &opts, "nr-tmpfs", dir]);
        fs
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        unmount(&self.dir);
    }
}

/// An ext4 file system of `mib` MiB in an image file, loop-mounted on a
/// fresh directory; files go to `dir` (not the mount point, which holds
/// `lost+found`). Unmounted, image and directories removed on drop.
pub struct Ext4 {
    mnt: PathBuf,
    img: PathBuf,
    /// An empty directory on the file system.
    pub dir: PathBuf,
}

impl Ext4 {
    /// Make, mount and return the file system (needs root).
    pub fn new(mib: u32) -> Ext4 {
        let base = unique("ext4");
        let mnt = base.with_extension("mnt");
        let img = base.with_extension("img");
        std::fs::create_dir_all(&mnt).unwrap();
        let fs = Ext4 {
            dir: mnt.join("d"),
            mnt,
            img,
        };
        // From here on, Drop cleans up.
        std::fs::File::create(&fs.img)
            .unwrap()
            .set_len(u64::from(mib) << 20)
            .unwrap();
        let img = fs.img.to_str().unwrap();
        run(
            "mkfs.ext4",
            &["-q", "-F", "-b", "4096", "-O", "^has_journal", img],
        );
        run("mount", &["-o", "loop", img, fs.mnt.to_str().unwrap()]);
        std::fs::create_dir(&fs.dir).unwrap();
        fs
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        unmount(&self.mnt);
        let _ = std::fs::remove_file(&self.img);
    }
}
