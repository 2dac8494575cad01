//! Kernels compiled for the widest vectors the processor has.
//!
//! The release build targets baseline x86-64 (SSE2: two numbers per
//! instruction). The streaming kernels of the implicit methods (sums of
//! difference rows, norms, which are bound by their divisions, vector
//! updates) run two to four times as many numbers per instruction with
//! AVX2 or AVX-512. [`widest!`] compiles a kernel for each and picks one
//! at run time. Additions, multiplications and divisions round the same at
//! every width, and no fused multiply-add is formed unless the code asks
//! for one (`mul_add`), so every version gives the same bits.

/// Whether kernels for `bits`-wide vectors (256: AVX2, 512: AVX-512F) may
/// run: the processor has them (and, in tests, the thread allows them).
#[inline]
pub(crate) fn allowed(bits: u32) -> bool {
    #[cfg(test)]
    if CAP.with(|c| c.get()) < bits {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        match bits {
            512 => std::arch::is_x86_feature_detected!("avx512f"),
            256 => std::arch::is_x86_feature_detected!("avx2"),
            _ => false,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = bits;
        false
    }
}

#[cfg(test)]
thread_local! {
    static CAP: std::cell::Cell<u32> = const { std::cell::Cell::new(512) };
}

/// Caps this thread's kernels at `bits`-wide vectors (128: baseline), so
/// that tests can compare every version with the reference.
#[cfg(test)]
pub(crate) fn cap(bits: u32) {
    CAP.with(|c| c.set(bits));
}

/// Runs `check` with the kernels capped at each width in turn (baseline,
/// AVX2, AVX-512; a width the processor lacks runs the next narrower),
/// then lifts the cap.
#[cfg(test)]
pub(crate) fn at_every_width(mut check: impl FnMut(u32)) {
    for bits in [128, 256, 512] {
        cap(bits);
        check(bits);
    }
    cap(512);
}

/// Defines a function whose body is compiled for AVX-512F, for AVX2 and
/// for the baseline, the widest the processor has running. The function
/// must not be generic; its parameters are plain names.
macro_rules! widest {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn wide512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn wide256($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }
                if $crate::implicit::work::wide::allowed(512) {
                    // SAFETY: the processor has AVX-512F (checked).
                    return unsafe { wide512($($arg),*) };
                }
                if $crate::implicit::work::wide::allowed(256) {
                    // SAFETY: the processor has AVX2 (checked).
                    return unsafe { wide256($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use widest;
