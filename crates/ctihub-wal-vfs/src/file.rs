//! The files this VFS opens: SQLite's own underneath, with the log's appends gathered.
//!
//! The other connections to the database (readers, the checkpoint thread) use SQLite's own VFS
//! and read the log through their own descriptors. They only read frames the WAL index header
//! in shared memory says are committed, and the writing connection publishes that header after
//! a barrier on its database file (`walIndexWriteHdr`: one copy, the barrier, the other copy;
//! a reader takes the header only when both copies agree). So a commit's frames must be in the
//! file by then: the commit frame's write writes them (see `pending`), and the barrier writes
//! anything still gathered before it lets SQLite go on.

use std::ffi::{c_char, c_int, c_void};
use std::ptr;
use std::sync::atomic::Ordering;

use libsqlite3_sys as ffi;

use crate::LOG_FLUSHES;
use crate::pending::{Pending, Sink};

/// What SQLite opened.
pub(crate) enum Role {
    /// The main database file; `log` is its log while that is open.
    Database { log: *mut File },
    /// The write-ahead log; `database` is the file it belongs to.
    Log { pending: Pending, database: *mut File, failed: bool },
    /// Anything else (temporary files, statement journals): passed straight through.
    Other,
}

/// SQLite's file object for this VFS. SQLite allocates `szOsFile` bytes for it and hands out a
/// pointer to `base`, its first field; the underlying VFS's file follows in the same allocation.
#[repr(C)]
pub(crate) struct File {
    base: ffi::sqlite3_file,
    inner: *mut ffi::sqlite3_file,
    role: Role,
}

/// Where the underlying file starts in a `File`'s allocation: after this struct, 8-aligned.
fn inner_offset() -> usize {
    std::mem::size_of::<File>().next_multiple_of(8)
}

/// Bytes SQLite allocates per file: this struct, then the underlying file.
pub(crate) fn allocation(inner_size: c_int) -> c_int {
    inner_offset() as c_int + inner_size
}

/// The most the underlying `unix` VFS writes with one call: it masks a write's length with
/// `0x1ffff` (SQLite's own writes are a page at most), so a longer one must be split.
const MAX_WRITE: usize = 0x1ffff & !0xfff;

/// The underlying file, as a sink for gathered bytes.
struct Inner(*mut ffi::sqlite3_file);

impl Sink for Inner {
    fn write_at(&mut self, bytes: &[u8], offset: i64) -> Result<(), i32> {
        LOG_FLUSHES.fetch_add(1, Ordering::Relaxed);
        let mut at = offset;
        // SAFETY: `self.0` is an open file of the underlying VFS (see `File::inner`).
        let Some(write) = (unsafe { (*(*self.0).pMethods).xWrite }) else { return Err(ffi::SQLITE_IOERR_WRITE) };
        for piece in bytes.chunks(MAX_WRITE) {
            // SAFETY: writing to that file; `piece` is under 128 KiB.
            let code = unsafe { write(self.0, piece.as_ptr().cast(), piece.len() as c_int, at) };
            if code != ffi::SQLITE_OK {
                return Err(code);
            }
            at += piece.len() as i64;
        }
        Ok(())
    }
}

/// Open `name` with the underlying `vfs` into `file` (`allocation` bytes from SQLite).
///
/// # Safety
/// The arguments are those of an `xOpen` call to this VFS, `vfs` the underlying one.
pub(crate) unsafe fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let file = file.cast::<File>();
    // SAFETY: SQLite allocated `allocation(szOsFile)` bytes at `file`, 8-aligned; the
    // underlying file starts `inner_offset()` bytes in.
    let inner = unsafe { file.cast::<u8>().add(inner_offset()).cast::<ffi::sqlite3_file>() };
    let role = if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        Role::Database { log: ptr::null_mut() }
    } else if flags & ffi::SQLITE_OPEN_WAL != 0 && !name.is_null() {
        Role::Log { pending: Pending::default(), database: ptr::null_mut(), failed: false }
    } else {
        Role::Other
    };
    // SAFETY: `file` points to writable memory large enough for a `File` and the underlying
    // file after it, not yet handed out. The underlying file is marked unopened until its
    // `xOpen` says otherwise.
    unsafe {
        file.write(File { base: ffi::sqlite3_file { pMethods: ptr::null() }, inner, role });
        (*inner).pMethods = ptr::null();
    }
    // SAFETY: `file` was initialised above and nobody else holds it yet.
    let this = unsafe { &mut *file };
    // SAFETY: `vfs` is SQLite's registered default VFS.
    let code = match unsafe { (*vfs).xOpen } {
        // SAFETY: forwarding `xOpen` to the underlying VFS with its own file memory.
        Some(open) => unsafe { open(vfs, name, inner, flags, out_flags) },
        None => ffi::SQLITE_CANTOPEN,
    };
    // SQLite calls `xClose` only when `pMethods` is set: mirror the underlying file.
    // SAFETY: `inner`'s `pMethods` was set above, and by the underlying `xOpen` if it opened.
    if unsafe { (*inner).pMethods }.is_null() {
        // SAFETY: the value written above, dropped once; SQLite will not call `xClose`.
        unsafe { ptr::drop_in_place(&mut this.role) };
        return code;
    }
    this.base.pMethods = &METHODS;
    if let Role::Log { database, .. } = &mut this.role {
        // SAFETY: `name` is a log name SQLite passed to `xOpen`, which is what
        // `sqlite3_database_file_object` takes.
        let owner = unsafe { ffi::sqlite3_database_file_object(name) };
        // The log's database was opened through this VFS too (a connection uses one VFS), but
        // only a file with these methods is a `File`.
        // SAFETY: `owner` is SQLite's open database file for this log.
        if !owner.is_null() && ptr::eq(unsafe { (*owner).pMethods }, &METHODS) {
            let owner = owner.cast::<File>();
            *database = owner;
            // SAFETY: a `File` (checked by its methods) that outlives its log: SQLite closes
            // the log before the database file.
            if let Role::Database { log } = unsafe { &mut (*owner).role } {
                *log = file;
            }
        }
    }
    code
}

/// # Safety
/// `file` is an open `File` (its `pMethods` are `METHODS`) and nothing else uses it meanwhile:
/// SQLite calls a file's methods from one connection, one at a time.
unsafe fn this<'f>(file: *mut ffi::sqlite3_file) -> &'f mut File {
    // SAFETY: see above.
    unsafe { &mut *file.cast::<File>() }
}

impl File {
    fn methods(&self) -> &ffi::sqlite3_io_methods {
        // SAFETY: `inner` is open (`xOpen` set its methods, or this file would not be open).
        unsafe { &*(*self.inner).pMethods }
    }

    /// Write what the log gathered; `SQLITE_OK` or why not.
    fn flush(&mut self) -> c_int {
        match &mut self.role {
            Role::Log { pending, failed: false, .. } => match pending.flush(&mut Inner(self.inner)) {
                Ok(()) => ffi::SQLITE_OK,
                Err(code) => code,
            },
            Role::Log { failed: true, .. } => ffi::SQLITE_IOERR_WRITE,
            _ => ffi::SQLITE_OK,
        }
    }
}

/// Write what the log gathered, then `$call` the underlying method; a failed write is the
/// method's result.
macro_rules! after_flush {
    ($file:expr, $method:ident ($($arg:expr),*)) => {{
        let this = $file;
        match this.flush() {
            ffi::SQLITE_OK => match this.methods().$method {
                // SAFETY: forwarding the call SQLite made to the underlying file.
                Some(method) => unsafe { method(this.inner $(, $arg)*) },
                None => ffi::SQLITE_IOERR,
            },
            failed => failed,
        }
    }};
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite closes an open file once, and uses it no more.
    let this = unsafe { this(file) };
    let flushed = this.flush();
    match &this.role {
        // SAFETY: a linked file is open (each unlinks itself when it closes).
        Role::Log { database, .. } if !database.is_null() => unsafe {
            if let Role::Database { log } = &mut (**database).role {
                *log = ptr::null_mut();
            }
        },
        // SAFETY: as above.
        Role::Database { log } if !log.is_null() => unsafe {
            if let Role::Log { database, .. } = &mut (**log).role {
                *database = ptr::null_mut();
            }
        },
        _ => {}
    }
    let closed = match this.methods().xClose {
        // SAFETY: forwarding the close; `inner` is not used afterwards.
        Some(close) => unsafe { close(this.inner) },
        None => ffi::SQLITE_OK,
    };
    // SAFETY: written in `open`, dropped once, here.
    unsafe { ptr::drop_in_place(&mut this.role) };
    if flushed != ffi::SQLITE_OK { flushed } else { closed }
}

unsafe extern "C" fn x_read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amount: c_int, offset: i64) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xRead(buf, amount, offset))
}

unsafe extern "C" fn x_write(file: *mut ffi::sqlite3_file, buf: *const c_void, amount: c_int, offset: i64) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    let this = unsafe { this(file) };
    match &mut this.role {
        Role::Log { failed: true, .. } => ffi::SQLITE_IOERR_WRITE,
        Role::Log { pending, .. } => {
            // SAFETY: SQLite passes `amount` readable bytes at `buf`.
            let bytes = unsafe { std::slice::from_raw_parts(buf.cast::<u8>(), amount.max(0) as usize) };
            match pending.write(&mut Inner(this.inner), bytes, offset) {
                Ok(()) => ffi::SQLITE_OK,
                Err(code) => code,
            }
        }
        _ => match this.methods().xWrite {
            // SAFETY: forwarding the call SQLite made to the underlying file.
            Some(write) => unsafe { write(this.inner, buf, amount, offset) },
            None => ffi::SQLITE_IOERR_WRITE,
        },
    }
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xTruncate(size))
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xSync(flags))
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xFileSize(size))
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xLock(level))
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xUnlock(level))
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xCheckReservedLock(out))
}

unsafe extern "C" fn x_file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xFileControl(op, arg))
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    let this = unsafe { this(file) };
    // SAFETY: forwarding the call SQLite made to the underlying file.
    this.methods().xSectorSize.map_or(4096, |method| unsafe { method(this.inner) })
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    let this = unsafe { this(file) };
    // Gathering appends changes none of them: every byte is written, in order, before anyone
    // can see it, and syncs go through as before.
    // SAFETY: forwarding the call SQLite made to the underlying file.
    this.methods().xDeviceCharacteristics.map_or(0, |method| unsafe { method(this.inner) })
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xShmMap(region, size, extend, out))
}

unsafe extern "C" fn x_shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xShmLock(offset, n, flags))
}

/// The point before SQLite publishes a new WAL index header: everything gathered for the log
/// must be in the file. Nothing is normally left by then (the commit frame wrote it); if writing
/// it fails here, where no error can be returned, the log refuses every later write and sync, so
/// the failed commit is never reported durable and no later one builds on it.
unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    // SAFETY: SQLite calls an open file's methods one at a time.
    let this = unsafe { this(file) };
    if let Role::Database { log } = this.role
        && !log.is_null()
    {
        // SAFETY: the linked log is open, and used by the same connection, which is busy here.
        let log = unsafe { &mut *log };
        if log.flush() != ffi::SQLITE_OK
            && let Role::Log { failed, .. } = &mut log.role
        {
            *failed = true;
        }
    }
    if let Some(method) = this.methods().xShmBarrier {
        // SAFETY: forwarding the call SQLite made to the underlying file.
        unsafe { method(this.inner) }
    }
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    after_flush!(unsafe { this(file) }, xShmUnmap(delete))
}

unsafe extern "C" fn x_fetch(file: *mut ffi::sqlite3_file, offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    let this = unsafe { this(file) };
    let fetch = this.methods().xFetch;
    match fetch {
        // SAFETY: forwarding the call SQLite made to the underlying file.
        Some(method) if this.flush() == ffi::SQLITE_OK => unsafe { method(this.inner, offset, amount, out) },
        _ => {
            // No mapped page: SQLite reads it instead.
            // SAFETY: SQLite passes a valid out-pointer.
            unsafe { *out = ptr::null_mut() };
            ffi::SQLITE_OK
        }
    }
}

unsafe extern "C" fn x_unfetch(file: *mut ffi::sqlite3_file, offset: i64, page: *mut c_void) -> c_int {
    // SAFETY: SQLite calls an open file's methods one at a time.
    let this = unsafe { this(file) };
    match this.methods().xUnfetch {
        // SAFETY: forwarding the call SQLite made to the underlying file.
        Some(method) => unsafe { method(this.inner, offset, page) },
        None => ffi::SQLITE_OK,
    }
}

static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: Some(x_fetch),
    xUnfetch: Some(x_unfetch),
};
