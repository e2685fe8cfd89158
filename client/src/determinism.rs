//! Randomness the client uses (backoff jitter, re-authentication timing,
//! KIP-848 member ids) comes from here, so a deterministic simulation can
//! seed it: on a single-threaded runtime all of the client runs on one
//! thread, and [`seed_this_thread`] makes every draw on that thread follow
//! the seed. Without a seed, draws come from `rand`'s thread RNG.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

thread_local! {
    static SEEDED: RefCell<Option<StdRng>> = const { RefCell::new(None) };
}

/// Makes the client's random draws on the current thread follow `seed`
/// (for deterministic simulation; `None` goes back to real randomness).
pub fn seed_this_thread(seed: Option<u64>) {
    SEEDED.with(|rng| *rng.borrow_mut() = seed.map(StdRng::seed_from_u64));
}

/// Runs `draw` on the seeded RNG of this thread, or on `rand`'s.
pub(crate) fn with_rng<T>(draw: impl FnOnce(&mut dyn rand::RngCore) -> T) -> T {
    SEEDED.with(|seeded| match seeded.borrow_mut().as_mut() {
        Some(rng) => draw(rng),
        None => draw(&mut rand::rng()),
    })
}

/// A uniform draw from `range`.
pub(crate) fn random_f64(range: std::ops::Range<f64>) -> f64 {
    with_rng(|rng| rng.random_range(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_its_draws() {
        seed_this_thread(Some(7));
        let first: Vec<f64> = (0..4).map(|_| random_f64(0.0..1.0)).collect();
        seed_this_thread(Some(7));
        let second: Vec<f64> = (0..4).map(|_| random_f64(0.0..1.0)).collect();
        seed_this_thread(None);
        assert_eq!(first, second);
    }
}
