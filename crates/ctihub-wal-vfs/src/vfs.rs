//! The VFS object: SQLite's default VFS with its own `xOpen` (`file::open`), every other method
//! forwarded to the default VFS.

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use libsqlite3_sys as ffi;

use crate::file;

/// The default VFS this one wraps, as `pAppData`.
fn inner(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    // SAFETY: SQLite passes the registered VFS, whose `pAppData` `register` set.
    unsafe { (*vfs).pAppData.cast() }
}

/// Call the default VFS's `$method`; `$missing` when it has none.
macro_rules! forward {
    ($vfs:expr, $method:ident ($($arg:expr),*) or $missing:expr) => {{
        let inner = inner($vfs);
        // SAFETY: `inner` is SQLite's registered default VFS, which lives for the process.
        match unsafe { (*inner).$method } {
            // SAFETY: forwarding the call SQLite made, with the default VFS as its VFS.
            Some(method) => unsafe { method(inner $(, $arg)*) },
            None => $missing,
        }
    }};
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: an `xOpen` call to this VFS, handed on with the default VFS.
    unsafe { file::open(inner(vfs), name, file, flags, out_flags) }
}

unsafe extern "C" fn x_delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    forward!(vfs, xDelete(name, sync_dir) or ffi::SQLITE_IOERR_DELETE)
}

unsafe extern "C" fn x_access(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    forward!(vfs, xAccess(name, flags, out) or ffi::SQLITE_IOERR_ACCESS)
}

unsafe extern "C" fn x_full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    forward!(vfs, xFullPathname(name, n, out) or ffi::SQLITE_CANTOPEN)
}

unsafe extern "C" fn x_dl_open(vfs: *mut ffi::sqlite3_vfs, name: *const c_char) -> *mut c_void {
    forward!(vfs, xDlOpen(name) or std::ptr::null_mut())
}

unsafe extern "C" fn x_dl_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) {
    forward!(vfs, xDlError(n, out) or ())
}

type Symbol = Option<unsafe extern "C" fn(*mut ffi::sqlite3_vfs, *mut c_void, *const c_char)>;

unsafe extern "C" fn x_dl_sym(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void, symbol: *const c_char) -> Symbol {
    forward!(vfs, xDlSym(handle, symbol) or None)
}

unsafe extern "C" fn x_dl_close(vfs: *mut ffi::sqlite3_vfs, handle: *mut c_void) {
    forward!(vfs, xDlClose(handle) or ())
}

unsafe extern "C" fn x_randomness(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    forward!(vfs, xRandomness(n, out) or 0)
}

unsafe extern "C" fn x_sleep(vfs: *mut ffi::sqlite3_vfs, microseconds: c_int) -> c_int {
    forward!(vfs, xSleep(microseconds) or 0)
}

unsafe extern "C" fn x_current_time(vfs: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    forward!(vfs, xCurrentTime(out) or ffi::SQLITE_ERROR)
}

unsafe extern "C" fn x_get_last_error(vfs: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    forward!(vfs, xGetLastError(n, out) or 0)
}

unsafe extern "C" fn x_current_time_int64(vfs: *mut ffi::sqlite3_vfs, out: *mut ffi::sqlite3_int64) -> c_int {
    forward!(vfs, xCurrentTimeInt64(out) or ffi::SQLITE_ERROR)
}

/// Register the VFS (once per process) and return its name ([`crate::NAME`]). Fails only if
/// SQLite has no default VFS or refuses the registration.
pub fn register() -> Result<&'static str, String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED.get_or_init(register_once).clone().map(|()| crate::NAME)
}

fn register_once() -> Result<(), String> {
    // SAFETY: SQLite initialises itself here if it has not yet; a null name asks for the default.
    let inner = unsafe { ffi::sqlite3_vfs_find(std::ptr::null()) };
    if inner.is_null() {
        return Err("SQLite has no default VFS".into());
    }
    let name = std::ffi::CString::new(crate::NAME).expect("no NUL in the name");
    let vfs = Box::new(ffi::sqlite3_vfs {
        // Version 2: without the system-call hooks, which are for SQLite's own tests.
        iVersion: 2,
        // SAFETY: `inner` is a registered VFS, alive for the process.
        szOsFile: file::allocation(unsafe { (*inner).szOsFile }),
        // SAFETY: as above.
        mxPathname: unsafe { (*inner).mxPathname },
        pNext: std::ptr::null_mut(),
        zName: name.into_raw(),
        pAppData: inner.cast(),
        xOpen: Some(x_open),
        xDelete: Some(x_delete),
        xAccess: Some(x_access),
        xFullPathname: Some(x_full_pathname),
        xDlOpen: Some(x_dl_open),
        xDlError: Some(x_dl_error),
        xDlSym: Some(x_dl_sym),
        xDlClose: Some(x_dl_close),
        xRandomness: Some(x_randomness),
        xSleep: Some(x_sleep),
        xCurrentTime: Some(x_current_time),
        xGetLastError: Some(x_get_last_error),
        xCurrentTimeInt64: Some(x_current_time_int64),
        xSetSystemCall: None,
        xGetSystemCall: None,
        xNextSystemCall: None,
    });
    // SQLite keeps the pointer for the rest of the process.
    let vfs = Box::into_raw(vfs);
    // SAFETY: a complete VFS object that is never freed; not the default.
    let code = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
    if code != ffi::SQLITE_OK {
        return Err(format!("SQLite refused to register the {} VFS (code {code})", crate::NAME));
    }
    Ok(())
}
