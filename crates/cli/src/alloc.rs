//! The process's memory allocator: jemalloc, for what a long-running
//! daemon holds. Its allocations are packed by size class without a header
//! each, and the pages a burst freed go back to the OS after a few seconds,
//! where glibc's allocator keeps small chunks with a header each and holes
//! between the long-lived ones. Measured with 10,000 idle seeding torrents
//! (`bench/seedbox.py`, two side-by-side runs): RSS settled 88.1 MB with
//! glibc's allocator (two arenas) against 65.6 MB with jemalloc's default
//! arenas, then 65.6 against 61.8 MB with one. A 1 GiB loopback download
//! (`bench/loopback.sh`) took as long and as much CPU with either; its
//! peak RSS was 2–5 MiB higher with jemalloc.

/// jemalloc serves every allocation of the process (not on MSVC, where it
/// does not build).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A pointer to the NUL-terminated options jemalloc reads at start-up.
#[cfg(not(target_env = "msvc"))]
#[repr(transparent)]
pub struct Options(*const u8);

// SAFETY: the pointer is to a static string, never written.
#[cfg(not(target_env = "msvc"))]
unsafe impl Sync for Options {}

/// jemalloc's compiled-in options (`MALLOC_CONF` syntax). One arena: each
/// thread's cache takes the small allocations without a lock, and more
/// arenas (four a core by default) each keep pages of their own, so a
/// daemon's long-lived state, made on whichever thread, spreads over all
/// of them. `_RJEM_MALLOC_CONF` in the environment overrides these.
#[cfg(not(target_env = "msvc"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: Options = Options(c"narenas:1".as_ptr().cast());
