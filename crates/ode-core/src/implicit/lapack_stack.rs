//! Room on the stack for LAPACK's dense factorization.
//!
//! Multi-threaded OpenBLAS (Debian's `libopenblas0-pthread`) keeps
//! per-thread job tables of `getrf` on the caller's stack: more than the
//! 2 MiB that `std::thread::spawn` and rayon give a thread. A solve with a
//! dense 100 x 100 Jacobian on such a thread died with a segfault inside
//! LAPACK (measured: fine up to n = 90, and with a 2.5 MiB stack). Threads
//! with a large stack (the main thread has the `ulimit -s` size, 8 MiB by
//! default) factorize where they are; the others hand large matrices to a
//! short-lived thread with a stack of its own, which costs about 40 µs per
//! factorization — a slowdown, not a crash.

use std::cell::Cell;

/// From this order on `getrf` may go parallel; below it, it is single
/// threaded and light on the stack.
const PARALLEL_FROM: usize = 64;

/// A thread with at least this much stack runs `getrf` itself.
const ENOUGH: usize = 6 << 20;

/// The stack of the helper thread: several times what `getrf` needs.
const HELPER_STACK: usize = 16 << 20;

thread_local! {
    /// Whether this thread's stack is known to be large enough (queried
    /// once per thread: for the main thread glibc reads /proc/self/maps).
    static ROOMY: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The current thread's stack size, where the platform tells it.
#[cfg(target_os = "linux")]
fn stack_size() -> Option<usize> {
    // SAFETY: `attr` is initialized by `pthread_getattr_np` before it is
    // read and destroyed exactly once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        ok.then_some(size)
    }
}

#[cfg(not(target_os = "linux"))]
fn stack_size() -> Option<usize> {
    None
}

fn roomy() -> bool {
    ROOMY.with(|r| {
        *r.get().get_or_insert_with(|| {
            let yes = stack_size().is_some_and(|s| s >= ENOUGH);
            r.set(Some(yes));
            yes
        })
    })
}

/// Whether a LAPACK factorization of an `n x n` matrix needs more stack
/// than this thread has.
pub(crate) fn needs_room(n: usize) -> bool {
    n >= PARALLEL_FROM && !roomy()
}

/// Runs `factorize` on a helper thread with a large stack (here if that
/// thread cannot be created).
pub(crate) fn on_roomy_thread<R: Send>(factorize: impl Fn() -> R + Sync) -> R {
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("ode-core-lu".into())
            .stack_size(HELPER_STACK)
            .spawn_scoped(scope, &factorize);
        match helper {
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => factorize(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_threads_hand_big_factorizations_over() {
        let on = |stack: usize| {
            std::thread::Builder::new()
                .stack_size(stack)
                .spawn(|| {
                    let ran_on = on_roomy_thread(|| std::thread::current().name().map(str::to_string));
                    (needs_room(10), needs_room(100), ran_on)
                })
                .unwrap()
                .join()
                .unwrap()
        };
        let (small, big, ran_on) = on(2 << 20);
        assert!(!small && big, "a 2 MiB thread needs help for n = 100 only");
        assert_eq!(ran_on.as_deref(), Some("ode-core-lu"));
        let (small, big, _) = on(32 << 20);
        assert!(!small && !big, "a 32 MiB thread factorizes itself");
    }
}
