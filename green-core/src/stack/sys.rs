//! The kernel calls behind the stack layer: reserve address space, install
//! guard pages, return pages, release address space. Nothing here keeps
//! state; `stack::slab` decides what to call and when.

use std::io;
use std::sync::OnceLock;

/// `madvise` advice that turns a range into guard pages without creating a
/// kernel mapping (Linux 6.13+). Not in the `libc` crate yet.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The size of a page, read once.
pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf takes no pointers and has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
    })
}

/// Reserves `len` bytes of readable, writable, private anonymous memory and
/// returns its address. With `noreserve`, the kernel does not account the
/// range against the commit limit (it is address space until touched);
/// without it, the kernel's overcommit check applies exactly as it does to
/// the stack glibc maps for a new OS thread, so a request std's
/// `Builder::spawn` would refuse is refused here too.
///
/// Transparent huge pages are turned off for the range: with THP set to
/// `always`, one touched page of a stack would otherwise pin 2 MiB.
pub(crate) fn reserve(len: usize, noreserve: bool) -> io::Result<usize> {
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK;
    if noreserve {
        flags |= libc::MAP_NORESERVE;
    }
    // SAFETY: a fresh anonymous mapping at an address the kernel chooses
    // cannot alias any existing Rust object; no pointer is passed in.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `addr..addr + len` is the mapping just created and owned by
    // the caller; MADV_NOHUGEPAGE only changes how it is backed. Failure
    // (THP compiled out) is harmless.
    unsafe { libc::madvise(addr, len, libc::MADV_NOHUGEPAGE) };
    Ok(addr as usize)
}

/// Gives a reservation made by [`reserve`] back to the kernel.
///
/// # Safety
///
/// `addr..addr + len` must be a whole reservation from [`reserve`] that no
/// stack, coroutine or pointer uses any more.
pub(crate) unsafe fn release(addr: usize, len: usize) {
    // SAFETY: the caller guarantees the range is ours and unused. munmap of
    // a valid range cannot fail in a way we could act on.
    unsafe { libc::munmap(addr as *mut libc::c_void, len) };
}

/// Turns `addr..addr + len` into guard pages that cost no kernel mapping.
/// `Err` with `EINVAL` means the kernel predates `MADV_GUARD_INSTALL`.
///
/// # Safety
///
/// The range must lie inside a reservation of ours and hold nothing anyone
/// reads or writes (its contents are discarded).
pub(crate) unsafe fn guard_install(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is an unused part of our own
    // mapping; the advice only installs guard markers there.
    let rc = unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_GUARD_INSTALL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes `addr..addr + len` inaccessible with `mprotect`: the guard for
/// kernels without `MADV_GUARD_INSTALL`. It splits the reservation, so each
/// such guard costs two kernel mappings.
///
/// # Safety
///
/// As [`guard_install`].
pub(crate) unsafe fn guard_protect(addr: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller guarantees the range is an unused part of our own
    // mapping; nothing we own points into it.
    let rc = unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Returns the pages of `addr..addr + len` to the kernel; the range stays
/// reserved and reads back as zeros. Guard markers inside are kept.
///
/// # Safety
///
/// Nothing may rely on the contents of the range: it must be stack memory of
/// a slot no green thread runs on.
pub(crate) unsafe fn discard(addr: usize, len: usize) {
    // SAFETY: the caller guarantees no live data sits in the range; for a
    // private anonymous mapping MADV_DONTNEED only drops pages.
    unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED) };
}

/// How many of the pages of `addr..addr + len` (page-aligned) are resident.
pub(crate) fn resident(addr: usize, len: usize) -> io::Result<usize> {
    let page = page_size();
    let mut vec = vec![0u8; len.div_ceil(page)];
    // SAFETY: the range is mapped (a stack slot of ours) and `vec` has one
    // byte per page of it, as mincore requires.
    let rc = unsafe { libc::mincore(addr as *mut libc::c_void, len, vec.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(vec.iter().filter(|&&v| v & 1 != 0).count())
}
