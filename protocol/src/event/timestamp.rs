//! Timestamps (spec §4.4): hybrid logical clocks, computed from a `last` timestamp and a wall
//! clock the caller passes in, since this crate reads no clock.

use serde::{Deserialize, Serialize};

/// A hybrid logical clock timestamp: wall-clock milliseconds, then a counter that orders
/// events within one millisecond or while the wall clock stands still or runs backwards.
///
/// Timestamps order by `wall_ms`, then `counter`. The functions here are pure: the caller
/// passes the current time in and keeps the last timestamp it issued or saw.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Hlc {
    /// Milliseconds since the Unix epoch, as best the writer knew; below
    /// [`crate::limits::WALL_MS_LIMIT`] in a valid event.
    pub wall_ms: u64,
    /// Tie breaker among timestamps with the same `wall_ms`.
    pub counter: u32,
}

impl Hlc {
    /// The timestamp for a local event, given the last timestamp this replica issued or
    /// observed and the current wall clock.
    ///
    /// The result is always greater than `last`, even when the wall clock went backwards.
    pub fn tick(last: Hlc, now_ms: u64) -> Hlc {
        if now_ms > last.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            last.successor()
        }
    }

    /// The timestamp to keep after receiving `remote`, given the last timestamp this replica
    /// issued or observed and the current wall clock: the standard HLC receive rule.
    ///
    /// The result is always greater than both `last` and `remote`.
    pub fn observe(last: Hlc, remote: Hlc, now_ms: u64) -> Hlc {
        let latest = last.max(remote);
        if now_ms > latest.wall_ms {
            Hlc {
                wall_ms: now_ms,
                counter: 0,
            }
        } else {
            // `latest` has the larger wall clock, and if both walls are equal the larger
            // counter, so stepping past it is the classic max-counter-plus-one rule.
            latest.successor()
        }
    }

    /// The smallest timestamp after `self`.
    ///
    /// When the counter is full, the timestamp moves one millisecond ahead of the wall clock
    /// and the counter restarts at 0 instead of wrapping, which would go backwards. Only at
    /// `wall_ms == u64::MAX` with a full counter does it stay put; that is far beyond
    /// [`crate::limits::WALL_MS_LIMIT`], so validation has rejected such an event long before.
    fn successor(self) -> Hlc {
        match self.counter.checked_add(1) {
            Some(counter) => Hlc {
                wall_ms: self.wall_ms,
                counter,
            },
            None if self.wall_ms == u64::MAX => self,
            None => Hlc {
                wall_ms: self.wall_ms + 1,
                counter: 0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::config;
    use super::*;
    use crate::limits;
    use proptest::prelude::*;

    #[test]
    fn hlc_tick_moves_forward_even_when_the_clock_does_not() {
        // Guards against a replica issuing a timestamp at or before one it issued already.
        let last = Hlc {
            wall_ms: 1_000,
            counter: 5,
        };
        assert_eq!(
            Hlc::tick(last, 2_000),
            Hlc {
                wall_ms: 2_000,
                counter: 0
            }
        );
        assert_eq!(
            Hlc::tick(last, 1_000),
            Hlc {
                wall_ms: 1_000,
                counter: 6
            }
        );
        // The clock went backwards: keep the old wall clock and count on.
        assert_eq!(
            Hlc::tick(last, 10),
            Hlc {
                wall_ms: 1_000,
                counter: 6
            }
        );
        // A full counter moves the timestamp one millisecond ahead instead of wrapping.
        let full = Hlc {
            wall_ms: 1_000,
            counter: u32::MAX,
        };
        assert_eq!(
            Hlc::tick(full, 900),
            Hlc {
                wall_ms: 1_001,
                counter: 0
            }
        );
    }

    #[test]
    fn hlc_observe_moves_past_both_clocks() {
        // Guards against a replica ordering its next event before one it has already seen.
        let last = Hlc {
            wall_ms: 1_000,
            counter: 5,
        };
        let remote_ahead = Hlc {
            wall_ms: 3_000,
            counter: 7,
        };
        assert_eq!(
            Hlc::observe(last, remote_ahead, 2_000),
            Hlc {
                wall_ms: 3_000,
                counter: 8
            }
        );
        let remote_behind = Hlc {
            wall_ms: 500,
            counter: 99,
        };
        assert_eq!(
            Hlc::observe(last, remote_behind, 10),
            Hlc {
                wall_ms: 1_000,
                counter: 6
            }
        );
        // Equal wall clocks: one past the larger counter.
        let remote_same = Hlc {
            wall_ms: 1_000,
            counter: 9,
        };
        assert_eq!(
            Hlc::observe(last, remote_same, 1_000),
            Hlc {
                wall_ms: 1_000,
                counter: 10
            }
        );
        // The local clock is ahead of both.
        assert_eq!(
            Hlc::observe(last, remote_ahead, 4_000),
            Hlc {
                wall_ms: 4_000,
                counter: 0
            }
        );
        let full = Hlc {
            wall_ms: 3_000,
            counter: u32::MAX,
        };
        assert_eq!(
            Hlc::observe(last, full, 0),
            Hlc {
                wall_ms: 3_001,
                counter: 0
            }
        );
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn hlc_always_moves_forward(
            last_wall_ms in 0..limits::WALL_MS_LIMIT,
            last_counter in any::<u32>(),
            remote_wall_ms in 0..limits::WALL_MS_LIMIT,
            remote_counter in any::<u32>(),
            now_ms in 0..limits::WALL_MS_LIMIT,
        ) {
            // Guards against a timestamp that does not come after what the replica knew.
            let last = Hlc { wall_ms: last_wall_ms, counter: last_counter };
            let remote = Hlc { wall_ms: remote_wall_ms, counter: remote_counter };
            prop_assert!(Hlc::tick(last, now_ms) > last);
            let observed = Hlc::observe(last, remote, now_ms);
            prop_assert!(observed > last);
            prop_assert!(observed > remote);
            prop_assert!(observed.wall_ms >= now_ms);
        }
    }
}
