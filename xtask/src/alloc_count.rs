//! A counting global allocator: the system allocator plus counters of the
//! bytes currently allocated and the peak since the last reset. The
//! `memory` experiment measures the peak heap use of one gradient with it.
//!
//! The counters are process-wide: measurements are only meaningful while no
//! other thread allocates. They are only updated inside [`measure`]: shared
//! counters updated by every allocation slowed `bench core` by 1.5x (and a
//! two-thread `solve_batch` by 2x, both threads fighting over them).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// [`System`] with byte counters.
pub struct Counting;

static ENABLED: AtomicBool = AtomicBool::new(false);
/// Net bytes allocated since the measurement started (negative when memory
/// allocated before it is freed during it).
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

#[global_allocator]
static GLOBAL: Counting = Counting;

fn grow(bytes: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        let b = bytes as isize;
        let now = CURRENT.fetch_add(b, Ordering::Relaxed) + b;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

fn shrink(bytes: usize) {
    if ENABLED.load(Ordering::Relaxed) {
        CURRENT.fetch_sub(bytes as isize, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments and
// only updates counters besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grow(new_size - layout.size());
            } else {
                shrink(layout.size() - new_size);
            }
        }
        p
    }
}

/// Runs `f` and returns its result with the peak number of bytes allocated
/// during it (net of what it freed).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    ENABLED.store(true, Ordering::SeqCst);
    let out = f();
    ENABLED.store(false, Ordering::SeqCst);
    (out, PEAK.load(Ordering::Relaxed).max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_vector() {
        let (len, bytes) = measure(|| {
            let v = vec![0u64; 1 << 16];
            std::hint::black_box(&v);
            v.len()
        });
        assert_eq!(len, 1 << 16);
        // Other test threads may allocate concurrently; the vector is a floor.
        assert!(bytes >= 8 << 16, "{bytes}");
    }
}
