//! Giving memory back to the operating system after a burst.
//!
//! glibc's allocator keeps freed memory for reuse; after the start-up replay (or the demo
//! seed) that is megabytes a pod's limit counts but nothing uses. Other allocators and
//! platforms: nothing to do.

/// Return free heap pages to the OS (glibc `malloc_trim`).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}
