//! How long to poll before going to sleep: the adaptive idle strategy the broker's loop and
//! the Rust client's reply wait share (opt-in: `xprocd --busy-poll MICROS`,
//! `XPROC_BUSY_POLL_US` for clients). Pure: it only does arithmetic on the durations its
//! caller measured.
//!
//! Why poll at all: on a virtual machine whose idle vCPUs halt at once (this project's CI
//! machine: `cpuidle` driver `haltpoll` with `guest_halt_poll_ns=0`), waking a process that
//! sleeps on the *other* vCPU costs tens of µs, several times a whole request's work. A
//! process that keeps polling for a few tens of µs after it ran out of work is still awake
//! when the next request or reply comes (docs/BENCHMARKS.md, "The wake-up").
//!
//! Why adaptive: polling burns CPU. The budget follows the guest kernel's own `haltpoll`
//! governor: it starts at 0, grows (to [`START`], then doubling up to the configured maximum)
//! each time a sleep ended sooner than the maximum — a longer poll would have caught that
//! event — and halves (to 0 below [`START`]) each time a sleep outlasted it. A busy
//! request/response stream therefore gets polled for; an idle broker or client stops polling
//! after a few sleeps, so the cost while idle is a few short polls per quiet period. While a
//! stream runs, the poller stays on its CPU, which is the price of the speed (measured in
//! docs/BENCHMARKS.md).

use std::time::Duration;

/// The first budget after one short sleep, and the smallest non-zero one: 10 µs, about one
/// request's work, below which a poll rarely catches anything.
pub const START: Duration = Duration::from_micros(10);

/// The poll budget, adapted to how long the sleeps that followed it turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Governor {
    max: Duration,
    budget: Duration,
}

impl Governor {
    /// A governor that polls at most `max` per idle period (`Duration::ZERO`: never polls).
    pub fn new(max: Duration) -> Governor {
        Governor {
            max,
            budget: Duration::ZERO,
        }
    }

    /// Whether polling is on at all.
    pub fn enabled(&self) -> bool {
        !self.max.is_zero()
    }

    /// How long to poll before the next sleep.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Records a sleep that followed an unsuccessful poll (or no poll) and lasted `slept`:
    /// short ones grow the budget, long ones shrink it.
    pub fn slept(&mut self, slept: Duration) {
        if !self.enabled() {
            return;
        }
        let idle = slept + self.budget;
        if idle <= self.max {
            self.budget = (self.budget * 2).max(START).min(self.max);
        } else {
            self.budget /= 2;
            if self.budget < START {
                self.budget = Duration::ZERO;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn off_never_polls() {
        let mut g = Governor::new(Duration::ZERO);
        g.slept(US);
        assert_eq!(g.budget(), Duration::ZERO);
        assert!(!g.enabled());
    }

    #[test]
    fn short_sleeps_grow_the_budget_to_the_maximum_and_long_ones_shrink_it_to_zero() {
        let mut g = Governor::new(50 * US);
        assert_eq!(g.budget(), Duration::ZERO);
        g.slept(5 * US);
        assert_eq!(g.budget(), START);
        g.slept(5 * US);
        assert_eq!(g.budget(), 20 * US);
        g.slept(5 * US);
        assert_eq!(g.budget(), 40 * US);
        // 40 µs of poll and 5 of sleep: still within 50, and capped there.
        g.slept(5 * US);
        assert_eq!(g.budget(), 50 * US);
        g.slept(Duration::from_millis(3));
        assert_eq!(g.budget(), 25 * US);
        g.slept(Duration::from_millis(3));
        assert_eq!(g.budget(), 12_500 * Duration::from_nanos(1));
        g.slept(Duration::from_millis(3));
        assert_eq!(g.budget(), Duration::ZERO, "below START it stops polling");
    }
}
