//! A thin VFS over SQLite's default one: a commit's WAL frames are written with one system
//! call, and a checkpoint's copy reaches the disk a little at a time.
//!
//! SQLite appends each WAL frame as two writes, its 24-byte header and then its page: a batch
//! of writes that changes 17 pages made 34 `pwrite` calls before its `fdatasync`, about nine
//! calls for every message stored. Here the writes SQLite makes to a WAL file one after the
//! other are gathered in memory and written as one, before anything that must see them on
//! disk: a sync (every commit ends with one: `synchronous=FULL`), a read, a size, a truncate,
//! a file control, the close, or a write somewhere else. Nothing about what is durable
//! changes: a commit is acknowledged after its sync, and its sync writes the frames first.
//! Other connections read a commit's frames only after SQLite publishes it in the WAL index,
//! which happens after that sync.
//!
//! A database file (in WAL mode only checkpoints write it) is synced after every
//! `SYNC_DATABASE_AFTER` bytes written to it. A disk's cache flush — every commit's sync ends
//! with one — costs as much as everything written to the disk since the last flush, whichever
//! file it was for (on the virtual disks measured, ~0.5 ms a megabyte), and the disk does one
//! request at a time. Left alone, a checkpoint's megabytes went out with the next sync of
//! anyone: a commit's, or the flush before a WAL rewind (tens of megabytes, 10-28 ms), and
//! every commit behind it waited that long. Synced in small pieces by the thread that copies,
//! each piece's flush is short, and a commit's sync finds at most one piece ahead of it. The
//! extra syncs only make the database file durable sooner; SQLite's own are all still made.
//!
//! Every other file (journals, temporary files) is opened by the default VFS as it is, with
//! no layer in between.

use rusqlite::ffi;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The VFS's name, for `Connection::open_with_flags_and_vfs`.
pub(crate) const NAME: &str = "switchboard";
const NAME_C: &CStr = c"switchboard";

/// The most bytes passed on in one write: the default VFS writes at most 17 bits' worth in a
/// call (and takes a longer write as a full disk). 31 frames of 4 KiB pages.
const MAX_GATHERED: usize = (1 << 17) - 1;

/// A database file is synced after this many bytes are written to it (the checkpoints'
/// copies): the flush of 256 KiB took ~0.3 ms on the disks measured. PostgreSQL's
/// checkpointer starts the writeback of its writes at the same size (`checkpoint_flush_after`).
const SYNC_DATABASE_AFTER: usize = 256 * 1024;

/// A WAL or database file as SQLite holds it: our header, and the default VFS's own file
/// after it in the same allocation (SQLite allocates `szOsFile` bytes per file).
#[repr(C)]
struct LayeredFile {
    /// First, so that SQLite's `sqlite3_file*` is a pointer to this.
    base: ffi::sqlite3_file,
    /// The default VFS's file, right after this header.
    real: *mut ffi::sqlite3_file,
    is_wal: bool,
    /// A WAL's bytes written but not yet passed on, for the file from `gathered_at` (at most
    /// `MAX_GATHERED`). Always empty for a database file.
    gathered: Vec<u8>,
    gathered_at: i64,
    /// A database file's bytes written since it was last synced.
    unsynced: usize,
}

/// Our header's size, rounded so that the real file after it is aligned.
const HEADER: usize = std::mem::size_of::<LayeredFile>().next_multiple_of(16);

/// Registers the VFS (once; later calls return the first outcome). Finding the default VFS
/// initialises SQLite: global configuration (`configure_sqlite`) must come first.
pub(crate) fn register() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            // SAFETY: `sqlite3_vfs_find(NULL)` returns the default VFS, which lives as long
            // as the process. Ours is a copy of it (its other methods and `pAppData` behave
            // exactly as the default's) with our `xOpen`, leaked so that it lives as long.
            unsafe {
                let default = ffi::sqlite3_vfs_find(std::ptr::null());
                if default.is_null() {
                    return Err("SQLite has no default VFS".to_string());
                }
                DEFAULT.get_or_init(|| default as usize);
                let mut ours: ffi::sqlite3_vfs = *default;
                ours.zName = NAME_C.as_ptr();
                ours.pNext = std::ptr::null_mut();
                ours.szOsFile = (*default).szOsFile + HEADER as c_int;
                ours.xOpen = Some(open);
                let ours = Box::leak(Box::new(ours));
                match ffi::sqlite3_vfs_register(ours, 0) {
                    ffi::SQLITE_OK => Ok(()),
                    rc => Err(format!("registering the SQLite VFS failed (code {rc})")),
                }
            }
        })
        .clone()
}

static DEFAULT: OnceLock<usize> = OnceLock::new();

fn default_vfs() -> *mut ffi::sqlite3_vfs {
    *DEFAULT.get().expect("registered before any open") as *mut ffi::sqlite3_vfs
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let default = default_vfs();
    let default_open = (*default).xOpen.expect("a VFS opens files");
    let is_wal = flags & ffi::SQLITE_OPEN_WAL != 0;
    if !is_wal && flags & ffi::SQLITE_OPEN_MAIN_DB == 0 {
        // Neither: the default VFS's file takes the whole allocation, as if we were not here.
        return default_open(default, name, file, flags, out_flags);
    }
    let real = (file as *mut u8).add(HEADER) as *mut ffi::sqlite3_file;
    let rc = default_open(default, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        // SQLite closes nothing whose `pMethods` is null.
        (*file).pMethods = std::ptr::null();
        return rc;
    }
    std::ptr::write(
        file as *mut LayeredFile,
        LayeredFile {
            base: ffi::sqlite3_file { pMethods: &METHODS },
            real,
            is_wal,
            gathered: Vec::new(),
            gathered_at: 0,
            unsynced: 0,
        },
    );
    ffi::SQLITE_OK
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

unsafe fn layered<'a>(file: *mut ffi::sqlite3_file) -> &'a mut LayeredFile {
    &mut *(file as *mut LayeredFile)
}

/// The default VFS's method `$m` on the real file.
macro_rules! real {
    ($w:expr, $m:ident) => {
        (*(*$w.real).pMethods)
            .$m
            .expect(concat!("the default VFS has ", stringify!($m)))
    };
}

/// Writes what was gathered.
unsafe fn write_gathered(w: &mut LayeredFile) -> c_int {
    if w.gathered.is_empty() {
        return ffi::SQLITE_OK;
    }
    let rc = real!(w, xWrite)(
        w.real,
        w.gathered.as_ptr() as *const c_void,
        w.gathered.len() as c_int,
        w.gathered_at,
    );
    w.gathered.clear();
    rc
}

/// Writes what was gathered, then runs `then` (unless the write failed).
unsafe fn after_gathered(
    file: *mut ffi::sqlite3_file,
    then: impl FnOnce(&mut LayeredFile) -> c_int,
) -> c_int {
    let w = layered(file);
    match write_gathered(w) {
        ffi::SQLITE_OK => then(w),
        failed => failed,
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let w = layered(file);
    let written = write_gathered(w);
    let closed = real!(w, xClose)(w.real);
    std::ptr::drop_in_place(&mut w.gathered);
    if written != ffi::SQLITE_OK {
        written
    } else {
        closed
    }
}

unsafe extern "C" fn write(
    file: *mut ffi::sqlite3_file,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let w = layered(file);
    if !w.is_wal {
        return write_database(w, data, amount, offset);
    }
    let follows = w.gathered_at + w.gathered.len() as i64 == offset;
    if !follows || w.gathered.len() + amount as usize > MAX_GATHERED {
        let rc = write_gathered(w);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        w.gathered_at = offset;
    }
    if amount as usize > MAX_GATHERED {
        // (SQLite writes a frame's header or page at a time: never this much.)
        return real!(w, xWrite)(w.real, data, amount, offset);
    }
    let bytes = std::slice::from_raw_parts(data as *const u8, amount as usize);
    w.gathered.extend_from_slice(bytes);
    ffi::SQLITE_OK
}

/// Writes to a database file, and syncs it once `SYNC_DATABASE_AFTER` bytes are unsynced.
unsafe fn write_database(
    w: &mut LayeredFile,
    data: *const c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    let rc = real!(w, xWrite)(w.real, data, amount, offset);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    w.unsynced += amount as usize;
    if w.unsynced < SYNC_DATABASE_AFTER {
        return ffi::SQLITE_OK;
    }
    let (started, bytes) = (std::time::Instant::now(), std::mem::take(&mut w.unsynced));
    DATABASE_SYNCS.fetch_add(1, Ordering::Relaxed);
    let rc = real!(w, xSync)(w.real, ffi::SQLITE_SYNC_NORMAL | ffi::SQLITE_SYNC_DATAONLY);
    log_if_slow(started, bytes, w.is_wal);
    rc
}

/// Syncs of database files made by `write_database` in this process (for the tests).
static DATABASE_SYNCS: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn read(
    file: *mut ffi::sqlite3_file,
    data: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    after_gathered(file, |w| real!(w, xRead)(w.real, data, amount, offset))
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    after_gathered(file, |w| real!(w, xTruncate)(w.real, size))
}

/// Writes what was gathered and syncs.
unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    let started = std::time::Instant::now();
    let w = layered(file);
    let (is_wal, bytes) = (w.is_wal, w.gathered.len() + std::mem::take(&mut w.unsynced));
    let rc = after_gathered(file, |w| real!(w, xSync)(w.real, flags));
    log_if_slow(started, bytes, is_wal);
    rc
}

/// A write and sync this slow is logged (at debug): every commit behind it waits as long.
const SLOW_SYNC: std::time::Duration = std::time::Duration::from_millis(20);

/// Logs a write and sync of `bytes` begun at `started` (SQLite's, or a database file's piece)
/// if it took over `SLOW_SYNC`.
fn log_if_slow(started: std::time::Instant, bytes: usize, is_wal: bool) {
    let took = started.elapsed();
    if took > SLOW_SYNC {
        tracing::debug!(
            ms = format!("{:.1}", took.as_secs_f64() * 1e3),
            bytes,
            file = if is_wal { "WAL" } else { "database" },
            "a slow write and sync"
        );
    }
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_gathered(file, |w| real!(w, xFileSize)(w.real, size))
}

unsafe extern "C" fn file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    after_gathered(file, |w| real!(w, xFileControl)(w.real, op, arg))
}

unsafe extern "C" fn fetch(
    file: *mut ffi::sqlite3_file,
    offset: i64,
    amount: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    after_gathered(file, |w| real!(w, xFetch)(w.real, offset, amount, pp))
}

// The rest have nothing to do with what is gathered: passed on as they are.

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let w = layered(file);
    real!(w, xLock)(w.real, level)
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let w = layered(file);
    real!(w, xUnlock)(w.real, level)
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let w = layered(file);
    real!(w, xCheckReservedLock)(w.real, out)
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let w = layered(file);
    real!(w, xSectorSize)(w.real)
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let w = layered(file);
    real!(w, xDeviceCharacteristics)(w.real)
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    let w = layered(file);
    real!(w, xShmMap)(w.real, region, size, extend, pp)
}

unsafe extern "C" fn shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let w = layered(file);
    real!(w, xShmLock)(w.real, offset, n, flags)
}

unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    let w = layered(file);
    real!(w, xShmBarrier)(w.real)
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let w = layered(file);
    real!(w, xShmUnmap)(w.real, delete)
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, offset: i64, p: *mut c_void) -> c_int {
    let w = layered(file);
    real!(w, xUnfetch)(w.real, offset, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::{Connection, OpenFlags};

    fn open(path: &std::path::Path) -> Connection {
        register().unwrap();
        let conn = Connection::open_with_flags_and_vfs(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            NAME,
        )
        .unwrap();
        // The WAL keeps every frame: the copy below must recover them all from it.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE t (n INTEGER PRIMARY KEY, body BLOB NOT NULL);",
        )
        .unwrap();
        conn
    }

    /// The files as a power cut would leave them once the commits so far were acknowledged,
    /// opened with SQLite's own VFS: the rows it finds.
    fn rows_in_a_copy(dir: &std::path::Path, name: &str) -> (i64, i64) {
        let copy = dir.join(format!("{name}.db"));
        std::fs::copy(dir.join("live.db"), &copy).unwrap();
        std::fs::copy(dir.join("live.db-wal"), dir.join(format!("{name}.db-wal"))).unwrap();
        let conn = Connection::open(&copy).unwrap();
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        conn.query_row(
            "SELECT count(*), coalesce(sum(length(body)), 0) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    }

    #[test]
    fn what_a_commit_wrote_is_in_the_wal_when_it_returns() {
        let dir = crate::TestDir::new("sb_vfs");
        let conn = open(&dir.path().join("live.db"));
        let insert = |conn: &Connection, n: i64, size: usize| {
            conn.execute(
                "INSERT INTO t (n, body) VALUES (?1, ?2)",
                (n, vec![n as u8; size]),
            )
            .unwrap();
        };
        // Small commits, one after another.
        for n in 0..50 {
            insert(&conn, n, 100 + n as usize * 50);
        }
        assert_eq!(rows_in_a_copy(dir.path(), "small").0, 50);

        // One transaction larger than what is gathered before it is written.
        conn.execute_batch("BEGIN").unwrap();
        for n in 50..60 {
            insert(&conn, n, 1 << 20);
        }
        conn.execute_batch("COMMIT").unwrap();
        let (rows, bytes) = rows_in_a_copy(dir.path(), "large");
        assert_eq!(rows, 60);
        assert!(bytes > 10 << 20);

        // A rewound WAL is written again from its start. The checkpoint before it copies
        // over 10 MB into the database file, which is synced every 256 KiB on the way.
        let syncs_before = DATABASE_SYNCS.load(Ordering::Relaxed);
        let (busy, _, _): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(busy, 0);
        // (Other tests' checkpoints may add to the count, never take from it.)
        let piece_syncs = DATABASE_SYNCS.load(Ordering::Relaxed) - syncs_before;
        assert!(
            piece_syncs >= 40,
            "{piece_syncs} syncs of the database file"
        );
        conn.execute("DELETE FROM t WHERE n >= 50", []).unwrap();
        for n in 60..70 {
            insert(&conn, n, 3000);
        }
        assert_eq!(rows_in_a_copy(dir.path(), "rewound").0, 60);

        // A rolled-back transaction leaves nothing behind.
        conn.execute_batch("BEGIN").unwrap();
        insert(&conn, 1000, 10);
        conn.execute_batch("ROLLBACK").unwrap();
        assert_eq!(rows_in_a_copy(dir.path(), "rolled-back").0, 60);
    }
}
