//! Where green-sync's primitives park, as green-thread dumps name them
//! (`green_core::dump`).

use green_core::dump::WaitSite;

pub(crate) static MUTEX_LOCK: WaitSite = WaitSite::new("Mutex::lock");
pub(crate) static RWLOCK_READ: WaitSite = WaitSite::new("RwLock::read");
pub(crate) static RWLOCK_WRITE: WaitSite = WaitSite::new("RwLock::write");
pub(crate) static CONDVAR_WAIT: WaitSite = WaitSite::new("Condvar::wait");
pub(crate) static BARRIER: WaitSite = WaitSite::new("Barrier::wait");
pub(crate) static ONCE: WaitSite = WaitSite::new("Once::call_once");
pub(crate) static MPSC_RECV: WaitSite = WaitSite::new("mpsc::Receiver::recv");
pub(crate) static MPSC_SEND: WaitSite = WaitSite::new("mpsc::Sender::send");

/// The site of an `RwLock` waiter with this tag.
pub(crate) fn rwlock(tag: usize) -> &'static WaitSite {
    if tag == crate::rwlock::TAG_WRITER {
        &RWLOCK_WRITE
    } else {
        &RWLOCK_READ
    }
}
