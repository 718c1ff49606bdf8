//! The challenge plan: a seeded random choice of actions.
//!
//! The core has no randomness source: the driver passes a seed (from the OS
//! random generator), and [`SplitMix64`] expands it. The seed is kept in the
//! plan and in the outcome, so a session's challenge can be reproduced.

use crate::action::Action;

use super::params::MAX_PLAN_ACTIONS;

/// The actions one check asks for, in order, and the seed they came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plan {
    pub seed: u64,
    pub actions: Vec<Action>,
}

/// SplitMix64 (Steele, Lea & Flood 2014; the seeder of `xoshiro`): a 64-bit
/// counter advanced by the golden-ratio constant and passed through a
/// bijective mixer. Every seed, 0 included, gives a full-period sequence.
/// Good enough to pick actions; not a cryptographic generator (the seed is).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting at `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (multiply-high, bias below 2⁻⁶⁰ for n ≤ 16); 0 when
    /// `n` is 0.
    pub fn below(&mut self, n: usize) -> usize {
        let wide = u128::from(self.next_u64()) * n as u128;
        usize::try_from(wide >> 64).unwrap_or(0)
    }
}

fn is_nod(a: Action) -> bool {
    matches!(a, Action::RaiseHead | Action::LowerHead)
}

/// Draws `count` actions from `allowed` for the seed.
///
/// - `count` is clamped to `1..=`[`MAX_PLAN_ACTIONS`]; duplicates in
///   `allowed` are ignored; an empty `allowed` gives an empty plan (which
///   [`super::Liveness`] refuses).
/// - No action repeats while `count` ≤ the number of allowed actions, and
///   never twice in a row. With a single allowed action the plan has one
///   action (a repeat in a row is not a fresh challenge).
/// - A plan never consists of nods only when anything else is allowed: a
///   tilted flat photo can imitate a nod, and the planar test only covers
///   turns; blinks, mouth and turns cannot be imitated by a flat picture.
/// - The same seed and inputs always give the same plan.
pub fn plan(seed: u64, allowed: &[Action], count: usize) -> Plan {
    let mut distinct: Vec<Action> = Vec::with_capacity(allowed.len());
    for &a in allowed {
        if !distinct.contains(&a) {
            distinct.push(a);
        }
    }
    if distinct.is_empty() {
        return Plan {
            seed,
            actions: Vec::new(),
        };
    }
    let mut count = count.clamp(1, MAX_PLAN_ACTIONS);
    if distinct.len() == 1 {
        count = 1;
    }
    let mut rng = SplitMix64::new(seed);
    // Fisher–Yates shuffle of the distinct actions.
    let mut pool = distinct.clone();
    for i in (1..pool.len()).rev() {
        let j = rng.below(i + 1);
        pool.swap(i, j);
    }
    let mut actions: Vec<Action> = Vec::with_capacity(count);
    for i in 0..count {
        match pool.get(i) {
            Some(&a) => actions.push(a),
            None => {
                let prev = actions.last().copied();
                let others: Vec<Action> = distinct
                    .iter()
                    .copied()
                    .filter(|&a| Some(a) != prev)
                    .collect();
                if let Some(&a) = others.get(rng.below(others.len())) {
                    actions.push(a);
                }
            }
        }
    }
    if actions.iter().all(|&a| is_nod(a)) {
        let others: Vec<Action> = distinct.iter().copied().filter(|&a| !is_nod(a)).collect();
        if let (Some(&a), Some(last)) = (others.get(rng.below(others.len())), actions.last_mut()) {
            *last = a;
        }
    }
    Plan { seed, actions }
}
