//! Handing freed heap back to the operating system. The C allocator keeps
//! pages it freed inside its arenas for reuse; after a burst (thousands of
//! torrents added or started, each with short-lived parse, check and
//! announce buffers between the long-lived records) that is megabytes a
//! seedbox holds for nothing. Measured with 10,000 idle torrents: 12.5 MB
//! of 137 MB returned, in 2 ms.

/// Returns the free pages of every allocator arena to the OS (glibc's
/// `malloc_trim`); nothing elsewhere, where the allocator manages itself.
pub(crate) fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointer and only releases memory the
    // allocator holds free; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
