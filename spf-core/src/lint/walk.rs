//! The walk of one record for one address family: what each address ends
//! with after the record's terms, first match wins (RFC 7208 §4.6.2).
//!
//! Each term is known by four sets (the addresses it surely / possibly
//! matches, and those for which it surely / possibly ends evaluation with an
//! error); the walk tracks six: `sure` (addresses that surely reach the
//! next term, or surely passed already), `maybe` (those that may reach it),
//! `lo` / `hi` (surely / possibly passed), `err_lo` / `err_hi` (surely /
//! possibly ended in an error). Term by term, with set operations:
//!
//! ```text
//! lo     += sure  & match_lo                     (pass terms only)
//! hi     += maybe & match_hi                     (pass terms only)
//! err_lo += sure  & err_lo'
//! err_hi += maybe & err_hi'
//! harm    = err_hi'  (pass terms), match_hi | err_hi' (others)
//! sure   -= harm - lo
//! maybe  -= match_lo | err_lo'
//! ```
//!
//! Applying that to the whole state for every term costs the size of the
//! state per term, quadratic in a record's terms (issue 16: 63 includes of
//! 63 KB of alternating `+ip6`/`-ip6` took minutes). Every operation above
//! is pointwise, so what happens to one address depends only on the terms
//! whose sets hold it, and only on the first of them in a few categories:
//! with `first(X)` the index of the first term whose set `X` holds the
//! address (none: after every term),
//!
//! - `maybe` is cleared at `a = first(match_lo | err_lo')`;
//! - `hi` is set when `first(match_hi of a pass term) <= a`, `err_hi`
//!   when `first(err_hi') <= a`;
//! - `sure`, not yet passed, is decided at
//!   `d = first(match_lo of a pass term | harm)`: `lo` is set when that
//!   term is a pass that surely matches (`first(match_lo of a pass term) ==
//!   d`), else `sure` is cleared;
//! - `err_lo` is set when `first(err_lo') <= d`, or at any `err_lo'` for an
//!   address that surely passed (`lo` is inside `sure`).
//!
//! So [`Walk`] collects the terms' sets in batches, computes the six
//! `first` maps of a batch by one sweep over its sorted range ends, and
//! combines them with the state in one merge of boundaries. A batch is
//! applied when it holds as many ranges as the state (or at the end), so
//! the merge costs no more than the batch: a record with `n` ranges in its
//! terms' sets costs O(n log n) in all, where applying term by term cost
//! O(n²).
//!
//! Applying a batch reads the lint's deadline every [`TICKS`] rounds of its
//! loops: a batch can be as large as the state, hundreds of thousands of
//! ranges in a hostile tree.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::ipset::{Family, Ranges};

/// Smallest batch applied before the end: below this, merging with the
/// state costs less than keeping the batch.
const MIN_BATCH: usize = 4096;

/// Rounds of a batch's loops (some 20 ns each) between two readings of the
/// deadline: about 0.1 ms.
const TICKS: u32 = 4096;

/// "No term": after every term of the batch.
const NONE: u32 = u32::MAX;

/// The categories of first-term maps (see the module documentation).
#[derive(Clone, Copy)]
enum Category {
    /// `match_lo | err_lo'`: clears `maybe`.
    StopMaybe = 0,
    /// `match_hi` of a pass term: may pass.
    MayPass = 1,
    /// `err_hi'`: may end in an error.
    MayFail = 2,
    /// `match_lo` of a pass term, or harm: decides `sure`.
    Decide = 3,
    /// `match_lo` of a pass term: surely passes.
    Pass = 4,
    /// `err_lo'`: surely ends in an error.
    Fail = 5,
}

const CATEGORIES: usize = 6;

/// One end of a range in a category: `(where, term, +1 start / -1 end)`.
type Event = (u128, u32, i8);

/// The sets of one term.
pub(crate) struct Step<'a> {
    /// Whether a match passes (the `+` qualifier).
    pub(crate) passes: bool,
    pub(crate) match_lo: &'a Ranges,
    pub(crate) match_hi: &'a Ranges,
    pub(crate) err_lo: &'a Ranges,
    pub(crate) err_hi: &'a Ranges,
}

/// What a walked record does for its family's addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Surely pass.
    pub(crate) lo: Ranges,
    /// May pass.
    pub(crate) hi: Ranges,
    /// Surely end in an error.
    pub(crate) err_lo: Ranges,
    /// May end in an error.
    pub(crate) err_hi: Ranges,
}

/// The deadline passed while a batch was applied: the walk is unusable.
#[derive(Debug)]
pub(crate) struct Late;

/// Reads the deadline every [`TICKS`] rounds.
struct Ticker {
    deadline: Option<Instant>,
    rounds: u32,
}

impl Ticker {
    fn tick(&mut self) -> Result<(), Late> {
        self.rounds += 1;
        if self.rounds < TICKS {
            return Ok(());
        }
        self.rounds = 0;
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(Late),
            _ => Ok(()),
        }
    }
}

/// The running walk of one record.
pub(crate) struct Walk {
    family: Family,
    deadline: Option<Instant>,
    /// `sure`, `maybe`, `lo`, `hi`, `err_lo`, `err_hi`.
    state: [Ranges; 6],
    /// Range ends of the pending terms, per category.
    events: [Vec<Event>; CATEGORIES],
    /// Pending terms.
    steps: u32,
    /// Ranges of the pending terms.
    pending: usize,
    /// Ranges a batch must reach before it is applied.
    min_batch: usize,
}

impl Walk {
    /// A walk that gives up applying a batch past `deadline`, if given.
    pub(crate) fn new(family: Family, deadline: Option<Instant>) -> Walk {
        Walk::with_min_batch(family, deadline, MIN_BATCH)
    }

    fn with_min_batch(family: Family, deadline: Option<Instant>, min_batch: usize) -> Walk {
        Walk {
            family,
            deadline,
            state: [
                Ranges::full(family),
                Ranges::full(family),
                Ranges::empty(family),
                Ranges::empty(family),
                Ranges::empty(family),
                Ranges::empty(family),
            ],
            events: Default::default(),
            steps: 0,
            pending: 0,
            min_batch,
        }
    }

    /// Adds the next term. Costs its ranges (and, amortized, as much again
    /// when its batch is applied); returns that number of ranges, for the
    /// caller's deadline checks.
    pub(crate) fn push(&mut self, step: &Step<'_>) -> Result<usize, Late> {
        let index = self.steps;
        let max = max_of(self.family);
        let mut added = 0;
        let mut add = |events: &mut Vec<Event>, set: &Ranges| {
            for &(lo, hi) in set.ranges() {
                events.push((lo, index, 1));
                if hi < max {
                    events.push((hi + 1, index, -1));
                }
            }
            added += set.ranges().len();
        };
        let [stop_maybe, may_pass, may_fail, decide, pass, fail] = &mut self.events;
        add(stop_maybe, step.match_lo);
        add(stop_maybe, step.err_lo);
        add(may_fail, step.err_hi);
        add(fail, step.err_lo);
        add(decide, step.err_hi);
        if step.passes {
            add(may_pass, step.match_hi);
            add(decide, step.match_lo);
            add(pass, step.match_lo);
        } else {
            add(decide, step.match_hi);
        }
        self.steps += 1;
        self.pending += added;
        let state: usize = self.state.iter().map(|s| s.ranges().len()).sum();
        // The last index is kept free for NONE.
        if self.pending >= self.min_batch.max(state) || self.steps == NONE - 1 {
            self.apply()?;
        }
        Ok(added)
    }

    /// The outcome after every term pushed.
    pub(crate) fn finish(mut self) -> Result<Outcome, Late> {
        self.apply()?;
        let [_, _, lo, hi, err_lo, err_hi] = self.state;
        Ok(Outcome { lo, hi, err_lo, err_hi })
    }

    /// Applies the pending terms to the state.
    fn apply(&mut self) -> Result<(), Late> {
        if self.steps == 0 {
            return Ok(());
        }
        let family = self.family;
        let steps = self.steps as usize;
        let mut ticker = Ticker { deadline: self.deadline, rounds: 0 };
        let mut maps: Vec<Vec<(u128, u32)>> = Vec::with_capacity(CATEGORIES);
        for events in &mut self.events {
            maps.push(first_terms(std::mem::take(events), steps, &mut ticker)?);
        }
        let mut firsts: Vec<Segments<'_>> = maps.iter().map(|m| Segments::new(m)).collect();
        let mut now: Vec<Cursor<'_>> = self.state.iter().map(|s| Cursor::new(s.ranges())).collect();
        let mut out: [Vec<(u128, u128)>; 6] = Default::default();
        let max = max_of(family);
        let mut at: u128 = 0;
        loop {
            ticker.tick()?;
            let mut next: Option<u128> = None;
            let mut first = [NONE; CATEGORIES];
            for (value, map) in first.iter_mut().zip(firsts.iter_mut()) {
                let (v, n) = map.at(at);
                *value = v;
                next = earliest(next, n);
            }
            let mut held = [false; 6];
            for (value, set) in held.iter_mut().zip(now.iter_mut()) {
                let (v, n) = set.at(at);
                *value = v;
                next = earliest(next, n);
            }
            let after = step_through(held, first);
            let end = next.map_or(max, |n| n - 1);
            for (set, &inside) in out.iter_mut().zip(&after) {
                if inside {
                    push_merged(set, (at, end));
                }
            }
            match next {
                Some(n) => at = n,
                None => break,
            }
        }
        for (state, ranges) in self.state.iter_mut().zip(out) {
            *state = Ranges::from_sorted(family, ranges);
        }
        self.steps = 0;
        self.pending = 0;
        Ok(())
    }
}

/// The state of one address after a batch: `held` is (sure, maybe, lo, hi,
/// err_lo, err_hi) before it, `first` the first term of each category
/// holding the address.
fn step_through(held: [bool; 6], first: [u32; CATEGORIES]) -> [bool; 6] {
    let [sure, maybe, lo, hi, err_lo, err_hi] = held;
    let stop_maybe = first[Category::StopMaybe as usize];
    let may_pass = first[Category::MayPass as usize];
    let may_fail = first[Category::MayFail as usize];
    let decide = first[Category::Decide as usize];
    let pass = first[Category::Pass as usize];
    let fail = first[Category::Fail as usize];
    // A term at or before the one that stops `maybe` still sees it.
    let before_stop = |x: u32| x != NONE && x <= stop_maybe;
    let passed = sure && pass != NONE && pass == decide;
    let new_lo = lo || passed;
    [
        sure && (lo || decide == NONE || passed),
        maybe && stop_maybe == NONE,
        new_lo,
        hi || (maybe && before_stop(may_pass)),
        err_lo || (sure && fail != NONE && (new_lo || fail <= decide)),
        err_hi || (maybe && before_stop(may_fail)),
    ]
}

/// For each address, the first term whose ranges (in `events`) hold it,
/// as segments `(start, term or NONE)` from 0, each until the next start.
fn first_terms(mut events: Vec<Event>, steps: usize, ticker: &mut Ticker) -> Result<Vec<(u128, u32)>, Late> {
    // Each term's ranges are in order, so a stable sort only merges runs.
    events.sort_by_key(|&(at, ..)| at);
    let mut active = vec![0u32; steps];
    let mut heap: BinaryHeap<Reverse<u32>> = BinaryHeap::new();
    let mut out: Vec<(u128, u32)> = Vec::with_capacity(events.len() + 1);
    out.push((0, NONE));
    let mut i = 0;
    while i < events.len() {
        ticker.tick()?;
        let at = events[i].0;
        while i < events.len() && events[i].0 == at {
            let (_, term, delta) = events[i];
            let count = &mut active[term as usize];
            if delta > 0 {
                *count += 1;
                if *count == 1 {
                    heap.push(Reverse(term));
                }
            } else {
                *count -= 1;
            }
            i += 1;
        }
        while heap.peek().is_some_and(|&Reverse(t)| active[t as usize] == 0) {
            heap.pop();
        }
        let first = heap.peek().map_or(NONE, |&Reverse(t)| t);
        match out.last_mut() {
            Some(last) if last.1 == first => {}
            Some(last) if last.0 == at => last.1 = first,
            _ => out.push((at, first)),
        }
    }
    Ok(out)
}

/// Reads a first-term map left to right.
struct Segments<'a> {
    map: &'a [(u128, u32)],
    index: usize,
}

impl<'a> Segments<'a> {
    fn new(map: &'a [(u128, u32)]) -> Self {
        Segments { map, index: 0 }
    }

    /// The value at `at` (never before the last asked) and where it may
    /// change next.
    fn at(&mut self, at: u128) -> (u32, Option<u128>) {
        while self.index + 1 < self.map.len() && self.map[self.index + 1].0 <= at {
            self.index += 1;
        }
        (self.map[self.index].1, self.map.get(self.index + 1).map(|&(start, _)| start))
    }
}

/// Reads a set of ranges left to right.
struct Cursor<'a> {
    ranges: &'a [(u128, u128)],
    index: usize,
}

impl<'a> Cursor<'a> {
    fn new(ranges: &'a [(u128, u128)]) -> Self {
        Cursor { ranges, index: 0 }
    }

    /// Whether `at` (never before the last asked) is in the set, and
    /// where that may change next.
    fn at(&mut self, at: u128) -> (bool, Option<u128>) {
        while self.index < self.ranges.len() && self.ranges[self.index].1 < at {
            self.index += 1;
        }
        match self.ranges.get(self.index) {
            None => (false, None),
            Some(&(lo, _)) if at < lo => (false, Some(lo)),
            Some(&(_, hi)) => (true, hi.checked_add(1)),
        }
    }
}

fn earliest(a: Option<u128>, b: Option<u128>) -> Option<u128> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn push_merged(all: &mut Vec<(u128, u128)>, (lo, hi): (u128, u128)) {
    match all.last_mut() {
        Some(last) if last.1.checked_add(1) == Some(lo) => last.1 = hi,
        _ => all.push((lo, hi)),
    }
}

fn max_of(family: Family) -> u128 {
    Ranges::full(family).ranges()[0].1
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The term-by-term walk the batches replace, kept as the reference.
    struct Reference {
        sure: Ranges,
        maybe: Ranges,
        lo: Ranges,
        hi: Ranges,
        err_lo: Ranges,
        err_hi: Ranges,
    }

    impl Reference {
        fn new(family: Family) -> Self {
            Reference {
                sure: Ranges::full(family),
                maybe: Ranges::full(family),
                lo: Ranges::empty(family),
                hi: Ranges::empty(family),
                err_lo: Ranges::empty(family),
                err_hi: Ranges::empty(family),
            }
        }

        fn apply(&mut self, step: &Step<'_>) {
            if step.passes {
                self.lo.add(&self.sure.intersection(step.match_lo));
                self.hi.add(&self.maybe.intersection(step.match_hi));
            }
            self.err_lo.add(&self.sure.intersection(step.err_lo));
            self.err_hi.add(&self.maybe.intersection(step.err_hi));
            let harm = if step.passes { step.err_hi.clone() } else { step.match_hi.union(step.err_hi) };
            self.sure = self.sure.difference(&harm.difference(&self.lo));
            self.maybe = self.maybe.difference(step.match_lo).difference(step.err_lo);
        }

        fn outcome(self) -> Outcome {
            Outcome { lo: self.lo, hi: self.hi, err_lo: self.err_lo, err_hi: self.err_hi }
        }
    }

    type Sets = (bool, [Ranges; 4]);

    /// Ranges near both ends of the family's space, so that the last
    /// address (no end event) is exercised.
    fn ranges(family: Family) -> impl Strategy<Value = Ranges> {
        let max = max_of(family);
        let bound = prop_oneof![0u128..48, (0u128..16).prop_map(move |d| max - d)];
        proptest::collection::vec((bound.clone(), bound), 0..4).prop_map(move |pairs| {
            pairs.into_iter().fold(Ranges::empty(family), |set, (a, b)| {
                set.union(&Ranges::from_sorted(family, vec![(a.min(b), a.max(b))]))
            })
        })
    }

    fn steps(family: Family) -> impl Strategy<Value = Vec<Sets>> {
        let step =
            (any::<bool>(), ranges(family), ranges(family), ranges(family), ranges(family), any::<bool>())
                .prop_map(|(passes, a, b, c, d, exact)| {
                    // Most terms are exact (ip4, ip6, all): match_lo == match_hi.
                    if exact {
                        (passes, [a.clone(), a, Ranges::empty(c.family()), Ranges::empty(d.family())])
                    } else {
                        (passes, [a, b, c, d])
                    }
                });
        proptest::collection::vec(step, 0..12)
    }

    fn walk(family: Family, steps: &[Sets], min_batch: usize) -> Outcome {
        let mut walk = Walk::with_min_batch(family, None, min_batch);
        for (passes, [match_lo, match_hi, err_lo, err_hi]) in steps {
            walk.push(&Step { passes: *passes, match_lo, match_hi, err_lo, err_hi }).expect("no deadline");
        }
        walk.finish().expect("no deadline")
    }

    fn reference(family: Family, steps: &[Sets]) -> Outcome {
        let mut walk = Reference::new(family);
        for (passes, [match_lo, match_hi, err_lo, err_hi]) in steps {
            walk.apply(&Step { passes: *passes, match_lo, match_hi, err_lo, err_hi });
        }
        walk.outcome()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Batches of any size give exactly what term-by-term gives.
        #[test]
        fn batches_equal_the_term_by_term_walk(
            family in prop_oneof![Just(Family::Ipv4), Just(Family::Ipv6)].prop_flat_map(|f| (Just(f), steps(f))),
            min_batch in prop_oneof![Just(0usize), 1usize..20, Just(MIN_BATCH)],
        ) {
            let (family, steps) = family;
            prop_assert_eq!(walk(family, &steps, min_batch), reference(family, &steps));
        }
    }

    #[test]
    fn no_terms_pass_nothing() {
        for family in Family::BOTH {
            let out = Walk::new(family, None).finish().expect("no deadline");
            assert!(out.lo.is_empty() && out.hi.is_empty() && out.err_lo.is_empty() && out.err_hi.is_empty());
        }
    }

    /// Issue 16's record: term by term, the state grows by a range per term.
    fn alternating(family: Family, terms: u128) -> Vec<Sets> {
        (0..terms)
            .map(|k| {
                let one = Ranges::network(family, k << 64, 128);
                (k % 2 == 0, [one.clone(), one, Ranges::empty(family), Ranges::empty(family)])
            })
            .collect()
    }

    #[test]
    fn alternating_single_addresses() {
        let family = Family::Ipv6;
        let sets = alternating(family, 6000);
        let out = walk(family, &sets, MIN_BATCH);
        assert_eq!(out.lo.count().get(), Some(3000));
        assert_eq!(out.lo, out.hi);
        assert!(out.lo.contains(2 << 64) && !out.lo.contains(1 << 64));
        assert!(out.err_hi.is_empty());
    }

    /// Past the deadline, applying a batch stops within [`TICKS`] rounds
    /// and the walk says it is unusable; before it, nothing changes.
    #[test]
    fn a_batch_stops_at_the_deadline() {
        let family = Family::Ipv6;
        let sets = alternating(family, 3 * u128::from(TICKS));
        let run = |deadline| {
            let mut walk = Walk::with_min_batch(family, deadline, usize::MAX);
            for (passes, [match_lo, match_hi, err_lo, err_hi]) in &sets {
                walk.push(&Step { passes: *passes, match_lo, match_hi, err_lo, err_hi })?;
            }
            walk.finish()
        };
        assert!(run(Some(Instant::now())).is_err());
        let later = Instant::now().checked_add(std::time::Duration::from_secs(3600));
        assert_eq!(run(later).expect("in time"), walk(family, &sets, MIN_BATCH));
    }
}
