//! Boot-time pool sizing: `entries = clamp(ceil(T * F * C), 8, 1024)`.

/// Smallest pool the heuristic proposes (C: `DISPATCHER_POOL_MIN_ENTRIES`, which
/// `DISPATCHER_POOL_ENTRIES_FOR` uses).
pub const DISPATCHER_POOL_MIN_ENTRIES: u32 = 8;
/// Largest pool the heuristic proposes and the default maximum of [`crate::pool::PoolConfig`]
/// (C: `DISPATCHER_POOL_MAX_ENTRIES`).
pub const DISPATCHER_POOL_MAX_ENTRIES: u32 = 1024;

/// Entries for `targets` dispatch targets, a fan-out fraction of `fanout_permille`/1000 and a
/// concurrency factor `concurrency`: `clamp(ceil(T * F * C), 8, 1024)` in integer arithmetic.
///
/// ```
/// use dispatcher_pool::sizing::pool_entries;
/// assert_eq!(pool_entries(64, 250, 2), 32);   // 64 * 0.25 * 2
/// assert_eq!(pool_entries(10, 250, 2), 8);    // ceil(5) = 5, clamped up to 8
/// assert_eq!(pool_entries(9999, 1000, 4), 1024);
/// ```
pub const fn pool_entries(targets: u32, fanout_permille: u32, concurrency: u32) -> u32 {
    // 32-bit arithmetic only (a u64 or u128 division costs ~0.9 KiB of helpers on a 32-bit
    // MCU): a product that overflows u32 is far above DISPATCHER_POOL_MAX_ENTRIES * 1000 anyway.
    if targets == 0 || fanout_permille == 0 || concurrency == 0 {
        return DISPATCHER_POOL_MIN_ENTRIES;
    }
    let product = match targets.checked_mul(fanout_permille) {
        Some(tf) => match tf.checked_mul(concurrency) {
            Some(p) => p,
            None => return DISPATCHER_POOL_MAX_ENTRIES,
        },
        None => return DISPATCHER_POOL_MAX_ENTRIES,
    };
    let entries = product.div_ceil(1000);
    if entries < DISPATCHER_POOL_MIN_ENTRIES {
        DISPATCHER_POOL_MIN_ENTRIES
    } else if entries > DISPATCHER_POOL_MAX_ENTRIES {
        DISPATCHER_POOL_MAX_ENTRIES
    } else {
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_fractions() {
        // 33 * 0.25 * 2 = 16.5 -> 17
        assert_eq!(pool_entries(33, 250, 2), 17);
        // 41 * 0.333 * 1 = 13.653 -> 14
        assert_eq!(pool_entries(41, 333, 1), 14);
    }

    #[test]
    fn clamps_to_min_and_max() {
        assert_eq!(pool_entries(0, 250, 2), DISPATCHER_POOL_MIN_ENTRIES);
        assert_eq!(pool_entries(1, 1, 1), DISPATCHER_POOL_MIN_ENTRIES);
        assert_eq!(pool_entries(3000, 1000, 1), DISPATCHER_POOL_MAX_ENTRIES);
    }

    #[test]
    fn does_not_overflow_on_extreme_inputs() {
        assert_eq!(
            pool_entries(u32::MAX, u32::MAX, u32::MAX),
            DISPATCHER_POOL_MAX_ENTRIES
        );
    }

    #[test]
    fn agrees_with_wide_arithmetic_at_the_edges() {
        let wide = |t: u32, f: u32, c: u32| {
            let e = (t as u128 * f as u128 * c as u128).div_ceil(1000);
            e.clamp(
                DISPATCHER_POOL_MIN_ENTRIES as u128,
                DISPATCHER_POOL_MAX_ENTRIES as u128,
            ) as u32
        };
        for t in [0, 1, 7, 33, 999, 1000, 4096, u32::MAX / 2, u32::MAX] {
            for f in [0, 1, 250, 333, 1000, u32::MAX] {
                for c in [0, 1, 2, 4, 64, u32::MAX] {
                    assert_eq!(pool_entries(t, f, c), wide(t, f, c), "{t} {f} {c}");
                }
            }
        }
    }

    #[test]
    fn exact_products_are_not_rounded() {
        assert_eq!(pool_entries(100, 250, 2), 50);
        assert_eq!(pool_entries(1024, 1000, 1), 1024);
    }
}
