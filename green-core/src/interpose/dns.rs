//! `getaddrinfo`: on a green thread, libc's own resolver runs on the
//! blocking pool (`crate::unblock`) and only the green thread waits.

use std::sync::OnceLock;

use libc::{addrinfo, c_char, c_int};

use super::green_here;

type GetAddrInfo = unsafe extern "C" fn(
    *const c_char,
    *const c_char,
    *const addrinfo,
    *mut *mut addrinfo,
) -> c_int;

/// libc's `getaddrinfo`.
fn real() -> Option<GetAddrInfo> {
    static REAL: OnceLock<usize> = OnceLock::new();
    let addr = *REAL.get_or_init(|| super::sleep::next(c"getaddrinfo"));
    // SAFETY: a non-null `addr` is libc's `getaddrinfo`, of this type.
    (addr != 0).then(|| unsafe { std::mem::transmute::<usize, GetAddrInfo>(addr) })
}

/// `getaddrinfo(3)`: libc's, run on the blocking pool when called on a
/// green thread (`errno`, which `EAI_SYSTEM` leaves set, is carried back).
///
/// # Safety
///
/// getaddrinfo(3)'s contract.
#[no_mangle]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    let Some(real) = real() else {
        return libc::EAI_FAIL;
    };
    if !green_here() {
        // SAFETY: the caller's contract.
        return unsafe { real(node, service, hints, res) };
    }
    let args = (
        node as usize,
        service as usize,
        hints as usize,
        res as usize,
    );
    // The caller's pointers outlive the job: `unblock` returns only once it
    // has run, and nothing cancels it inside `uncancellable`.
    let (rc, err) = crate::cancel::uncancellable(|| {
        crate::unblock(move || {
            let (n, s, h, r) = args;
            // SAFETY: the caller's arguments, valid until it returns.
            let rc = unsafe {
                real(
                    n as *const c_char,
                    s as *const c_char,
                    h as *const addrinfo,
                    r as *mut *mut addrinfo,
                )
            };
            (rc, super::errno())
        })
    });
    if rc == libc::EAI_SYSTEM {
        super::set_errno(err);
    }
    rc
}
