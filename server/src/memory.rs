//! The process's allocator, and giving memory back to the operating system after a burst.
//!
//! mimalloc, told to return freed pages at once while starting and a second after they are
//! freed once serving: the start-up replay and each tool call leave megabytes of garbage
//! that a pod's memory limit counts. glibc's allocator kept most of it even after
//! `malloc_trim`: on 1M events with 10k journal records replayed, 50 MiB anonymous at
//! `/ready` with glibc, 24 MiB with this (BENCHMARKS.md).

use libmimalloc_sys::{mi_collect, mi_option_set, mi_option_t};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_e` of mimalloc v3 (`include/mimalloc.h`); the Rust bindings name only v2's.
/// The test below fails if they do not do what they are set for.
const ARENA_EAGER_COMMIT: mi_option_t = 4;
const PURGE_DELAY: mi_option_t = 15;

/// Set the allocator's options before anything is allocated: mimalloc reserves its first
/// (and, for this process, only) 1 GiB arena on the first allocation, which happens before
/// `main`, and the arena keeps the commit policy it was made with.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE: extern "C" fn() = configure;

#[cfg(target_os = "linux")]
extern "C" fn configure() {
    // SAFETY: setting an option takes no pointers and needs no initialised heap.
    unsafe {
        // While starting, free pages go back to the OS as soon as they are free: the
        // replay's (or the demo seed's) garbage is freed by threads that then go idle, and
        // a delayed purge only happens when the same thread allocates again.
        mi_option_set(PURGE_DELAY, 0);
        // Arenas commit on demand: memory of an eagerly committed arena stayed resident
        // after it was freed (60-90 MiB more at `/ready` in that measurement).
        mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

/// Return what the calling thread and the arenas hold free to the OS.
pub fn release_free() {
    // SAFETY: mi_collect takes no pointers.
    unsafe { mi_collect(true) }
}

/// Start-up is over (the first idle second after `/ready`): freed pages now wait a second
/// before they go back, as tool calls and ingest free and reuse megabytes each. Purging
/// them at once cost `search_errors` and `top_errors` 30-50% more CPU (page faults on
/// memory just given back) for 6 MiB less resident; after 100 ms, sustained ingest still
/// spent a fifth of its throughput on those faults (3 kB error deliveries with wrk:
/// 16.8-18.1k/s at 100 ms, 21.3-21.5k/s at 1 s). An idle server is back to its floor a
/// second later either way. Idempotent.
pub fn serving() {
    // SAFETY: setting an option takes no pointers.
    unsafe { mi_option_set(PURGE_DELAY, 1000) }
}

#[cfg(test)]
mod tests {
    fn resident_anonymous_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("RssAnon:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap();
        kib * 1024
    }

    /// What the options are for: 64 MiB of small allocations, freed, leave the resident
    /// set soon after, without `release_free`. With mimalloc's defaults (or a wrong option
    /// number) they stay. Judged by what leaves, not against the level before: the other
    /// tests of this binary allocate and free beside it, and one of them may have switched
    /// to the serving purge delay (1 s), so it waits up to 5 s.
    #[cfg(target_os = "linux")]
    #[test]
    fn freed_memory_leaves_the_resident_set() {
        let before = resident_anonymous_bytes();
        let chunks: Vec<Vec<u8>> = (0..128 * 1024).map(|i| vec![i as u8; 512]).collect();
        let held = resident_anonymous_bytes();
        assert!(held > before + (48 << 20), "{before} -> {held}");
        drop(chunks);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let after = loop {
            // Past the purge delay, the next allocations purge what is due.
            std::thread::sleep(std::time::Duration::from_millis(100));
            let small: Vec<Vec<u8>> = (0..1024).map(|i| vec![i as u8; 512]).collect();
            let after = resident_anonymous_bytes();
            drop(small);
            if after + (32 << 20) < held || std::time::Instant::now() > deadline {
                break after;
            }
        };
        assert!(
            after + (32 << 20) < held,
            "{} MiB before, {} MiB holding 64 MiB, {} MiB after freeing it",
            before >> 20,
            held >> 20,
            after >> 20
        );
    }
}
