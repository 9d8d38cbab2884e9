//! The ecosystem run's event queue: a bucket queue by exact time.
//!
//! The pop order is exactly the [`EventQueue`](crate::engine::EventQueue)'s over all
//! items: time, then push order (one sequence over the whole run). Items of one
//! instant are kept in a first-in, first-out run in push order, so a run *is* in
//! sequence order and needs no key at all; the runs of a day are a short list sorted
//! by time (offices act at a few hours of the day: 09:00, 10:00, …), and the days
//! after the current one are a ring of such lists. Pushing is finding the item's run
//! in its day's list and linking the item at the run's end; popping is unlinking the
//! head of the earliest run of the current day. No item is moved once stored until it
//! is popped, whatever the number pending (every clinic's plan timers are queued at
//! the start: tens of thousands).
//!
//! The order holds because each run receives its items in push order:
//! - before the first pop, items are only listed in push order; the first pop files
//!   them all, in that order, from the earliest day;
//! - later, an item for a day within [`RING_DAYS`] of the current one goes straight
//!   to its run (an item for an earlier instant than the current one joins the
//!   current day's list at its own time, so it pops next, as in a heap);
//! - an item for a later day waits in the far heap, ordered by (time, sequence), and
//!   is filed (in that order) as soon as its day comes within the ring, before any
//!   later push can reach that day.
//!
//! Proptests hold the pop order equal to [`EventQueue`](crate::engine::EventQueue)'s.
//! (Session 10's queue, a heap of per-clinic sorted queues, did a sorted insert and
//! several sifts of 24-byte entries per item: ~300 instructions per item, measured
//! against ~120 here, most of them the copy of the item in and out.)

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::VirtualTime;

/// Days from the current one (included) that have a list in the ring; items for
/// later days wait in the far heap *(our choice; only the speed depends on it; a
/// power of two, so the bucket is a mask)*.
const RING_DAYS: i64 = 512;

const MINUTES_PER_DAY: i64 = 24 * 60;

/// No next item (the end of a run).
const NIL: u32 = u32::MAX;

/// The day of an instant: days since 1955-01-01 (negative before).
#[inline(always)]
fn day_of(at: VirtualTime) -> i64 {
    at.0.div_euclid(MINUTES_PER_DAY)
}

/// The ring's list of day `d`.
#[inline(always)]
fn bucket(d: i64) -> usize {
    d.rem_euclid(RING_DAYS) as usize
}

/// A stored item: its time, its clinic, the next item of its run.
struct Stored<E> {
    at: VirtualTime,
    clinic: u32,
    next: u32,
    item: Option<E>,
}

/// The items of one instant, first to last (indices into the store).
#[derive(Debug, Clone, Copy)]
struct Run {
    at: VirtualTime,
    head: u32,
    tail: u32,
}

/// Pending items, each for a clinic.
pub struct ClinicQueue<E> {
    store: Vec<Stored<E>>,
    /// Free places in `store`.
    free: Vec<u32>,
    /// The runs of day `d`, `today <= d < today + RING_DAYS`, in `ring[bucket(d)]`,
    /// latest first (the earliest is the last); the current day's list also holds
    /// any item pushed for an earlier instant.
    ring: Vec<Vec<Run>>,
    /// Runs in the ring.
    runs: usize,
    /// Items for days from `today + RING_DAYS` on, by (time, sequence, place).
    far: BinaryHeap<Reverse<(VirtualTime, u64, u32)>>,
    /// Before the first pop: every item, in push order (place in the store).
    early: Vec<u32>,
    /// The current day; `None` before the first pop.
    today: Option<i64>,
    len: usize,
    seq: u64,
}

impl<E> ClinicQueue<E> {
    /// An empty queue with room for `capacity` pending items.
    pub fn new(capacity: usize) -> Self {
        ClinicQueue {
            store: Vec::with_capacity(capacity),
            free: Vec::new(),
            ring: (0..RING_DAYS).map(|_| Vec::new()).collect(),
            runs: 0,
            far: BinaryHeap::new(),
            early: Vec::with_capacity(capacity),
            today: None,
            len: 0,
            seq: 0,
        }
    }

    /// Schedules `item` for clinic `clinic` at `at`; among items at the same instant,
    /// earlier pushes pop first (over all clinics).
    #[inline(always)]
    pub fn push(&mut self, clinic: u32, at: VirtualTime, item: E) {
        let stored = Stored {
            at,
            clinic,
            next: NIL,
            item: Some(item),
        };
        let place = match self.free.pop() {
            Some(p) => {
                self.store[p as usize] = stored;
                p
            }
            None => {
                let p = u32::try_from(self.store.len()).expect("fewer than 2^32 pending items");
                assert!(p != NIL, "fewer than 2^32 - 1 pending items");
                self.store.push(stored);
                p
            }
        };
        let seq = self.seq;
        self.seq += 1;
        self.len += 1;
        match self.today {
            None => self.early.push(place),
            Some(today) => self.file(today, place, seq),
        }
    }

    /// Put the item at `place`, the `seq`-th pushed, in its run or in the far heap.
    #[inline(always)]
    fn file(&mut self, today: i64, place: u32, seq: u64) {
        let at = self.store[place as usize].at;
        let d = day_of(at);
        if d - today < RING_DAYS {
            self.link(d.max(today), at, place);
        } else {
            self.far.push(Reverse((at, seq, place)));
        }
    }

    /// Link the item at `place` at the end of the run of `at` in day `d`'s list.
    #[inline(always)]
    fn link(&mut self, d: i64, at: VirtualTime, place: u32) {
        let list = &mut self.ring[bucket(d)];
        // Latest first: look from the earliest (the end) for the run of `at` or the
        // place of a new one.
        let mut i = list.len();
        while i > 0 {
            let run = &mut list[i - 1];
            if run.at == at {
                let tail = run.tail;
                run.tail = place;
                self.store[tail as usize].next = place;
                return;
            }
            if run.at > at {
                break;
            }
            i -= 1;
        }
        list.insert(
            i,
            Run {
                at,
                head: place,
                tail: place,
            },
        );
        self.runs += 1;
    }

    /// Removes and returns the earliest item of the run, with its time and clinic.
    #[inline]
    pub fn pop(&mut self) -> Option<(VirtualTime, u32, E)> {
        if self.today.is_none() {
            self.begin()?;
        }
        loop {
            let today = self.today.expect("set by the first pop");
            let list = &mut self.ring[bucket(today)];
            if let Some(run) = list.last_mut() {
                let place = run.head;
                let s = &mut self.store[place as usize];
                if place == run.tail {
                    list.pop();
                    self.runs -= 1;
                } else {
                    run.head = s.next;
                }
                let item = s.item.take().expect("a linked item is stored");
                let (at, clinic) = (s.at, s.clinic);
                self.free.push(place);
                self.len -= 1;
                return Some((at, clinic, item));
            }
            if !self.advance(today) {
                return None;
            }
        }
    }

    /// The first pop: the current day is the earliest item's; file every item in
    /// push order.
    fn begin(&mut self) -> Option<()> {
        let today = self
            .early
            .iter()
            .map(|&p| day_of(self.store[p as usize].at))
            .min()?;
        self.today = Some(today);
        let early = std::mem::take(&mut self.early);
        // Before the first pop the `k`-th push is the `k`-th item listed.
        for (seq, &place) in early.iter().enumerate() {
            self.file(today, place, seq as u64);
        }
        Some(())
    }

    /// The current day's list is empty: move to the next day with items (in the
    /// ring or the far heap's earliest), filing the far items whose day comes within
    /// the ring. False when no item is pending.
    fn advance(&mut self, today: i64) -> bool {
        let ring_next = if self.runs > 0 {
            (today + 1..today + RING_DAYS).find(|&d| !self.ring[bucket(d)].is_empty())
        } else {
            None
        };
        let far_next = self.far.peek().map(|Reverse((at, _, _))| day_of(*at));
        let next = match (ring_next, far_next) {
            (Some(a), Some(b)) => a.min(b),
            (Some(d), None) | (None, Some(d)) => d,
            (None, None) => return false,
        };
        self.today = Some(next);
        while let Some(&Reverse((at, _, place))) = self.far.peek() {
            let d = day_of(at);
            if d - next >= RING_DAYS {
                break;
            }
            self.far.pop();
            self.link(d, at, place);
        }
        true
    }

    /// The number of pending items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if no item is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EventQueue;
    use proptest::prelude::*;

    /// One step of a test: push for a clinic at `now + delay` minutes, or pop.
    #[derive(Debug, Clone)]
    enum Op {
        Push { clinic: u32, delay: i64 },
        Pop,
    }

    fn op(clinics: u32) -> impl Strategy<Value = Op> {
        prop_oneof![
            // Minutes, days and years ahead (past the buckets: the far heap).
            3 => (0..clinics, prop_oneof![
                Just(0i64),
                0i64..3,
                0i64..5000,
                0i64..(1440 * 3 * RING_DAYS),
            ])
                .prop_map(|(clinic, delay)| Op::Push { clinic, delay }),
            2 => Just(Op::Pop),
        ]
    }

    type Popped = Vec<(VirtualTime, u32, usize)>;

    /// Runs `ops` on both queues (times never before the last pop, as in a run) and
    /// returns both pop sequences, the rest drained at the end.
    fn both(ops: &[Op], only_current: bool) -> (Popped, Popped) {
        let mut new = ClinicQueue::new(2);
        let mut old = EventQueue::new();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut now = VirtualTime(-5_000);
        let mut current = None;
        for (n, o) in ops.iter().enumerate() {
            match *o {
                Op::Push { clinic, delay } => {
                    // The driver's pattern: after a pop, pushes for the popped clinic.
                    let clinic = match current {
                        Some(c) if only_current => c,
                        _ => clinic,
                    };
                    let at = now.plus_minutes(delay);
                    new.push(clinic, at, n);
                    old.push(at, (clinic, n));
                }
                Op::Pop => {
                    let x = new.pop();
                    let y = old.pop().map(|(t, (c, n))| (t, c, n));
                    assert_eq!(x, y);
                    if let Some((t, c, _)) = x {
                        now = t;
                        current = Some(c);
                        a.push(x.unwrap());
                        b.push(y.unwrap());
                    }
                }
            }
            assert_eq!(new.len(), old.len());
        }
        while let Some(x) = new.pop() {
            a.push(x);
        }
        while let Some((t, (c, n))) = old.pop() {
            b.push((t, c, n));
        }
        (a, b)
    }

    /// `ops` with every push aimed at one of `clinics` clinics.
    fn for_clinics(ops: Vec<Op>, clinics: u32) -> Vec<Op> {
        ops.into_iter()
            .map(|o| match o {
                Op::Push { clinic, delay } => Op::Push {
                    clinic: clinic % clinics,
                    delay,
                },
                Op::Pop => Op::Pop,
            })
            .collect()
    }

    proptest! {
        /// The driver's use: the start pushes for every clinic, then each pop
        /// followed by pushes for the clinic popped.
        #[test]
        fn pops_in_the_event_queue_order(
            clinics in 1u32..40,
            ops in proptest::collection::vec(op(40), 0..400),
        ) {
            let ops = for_clinics(ops, clinics);
            let (a, b) = both(&ops, true);
            prop_assert_eq!(a, b);
        }

        /// Pushes for any clinic at any point: the same order.
        #[test]
        fn pops_in_order_with_pushes_for_any_clinic(
            clinics in 1u32..10,
            ops in proptest::collection::vec(op(10), 0..300),
        ) {
            let ops = for_clinics(ops, clinics);
            let (a, b) = both(&ops, false);
            prop_assert_eq!(a, b);
        }
    }

    proptest! {
        /// Any instants, also before the last pop (a heap pops them next) and years
        /// ahead, pushed before and after the first pop: the same order.
        #[test]
        fn pops_in_order_at_any_instant(
            ops in proptest::collection::vec(
                prop_oneof![
                    3 => (0u32..5, prop_oneof![
                        -5_000i64..5_000,
                        any::<i32>().prop_map(i64::from),
                        Just(i64::MAX / 2),
                        Just(i64::MIN / 2),
                    ]).prop_map(|(c, t)| Some((c, t))),
                    2 => Just(None),
                ],
                0..300,
            ),
        ) {
            let mut new = ClinicQueue::new(0);
            let mut old = EventQueue::new();
            for (n, o) in ops.iter().enumerate() {
                match *o {
                    Some((clinic, t)) => {
                        new.push(clinic, VirtualTime(t), n);
                        old.push(VirtualTime(t), (clinic, n));
                    }
                    None => {
                        let y = old.pop().map(|(t, (c, n))| (t, c, n));
                        prop_assert_eq!(new.pop(), y);
                    }
                }
                prop_assert_eq!(new.len(), old.len());
            }
            while let Some((t, (c, n))) = old.pop() {
                prop_assert_eq!(new.pop(), Some((t, c, n)));
            }
            prop_assert!(new.pop().is_none());
            prop_assert!(new.is_empty());
        }
    }

    #[test]
    fn equal_times_pop_in_push_order_across_clinics() {
        let mut q = ClinicQueue::new(1);
        let t = VirtualTime(100);
        q.push(2, t, 'a');
        q.push(0, t, 'b');
        q.push(2, VirtualTime(50), 'c');
        q.push(1, t, 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|x| x.2)).collect();
        assert_eq!(order, ['c', 'a', 'b', 'd']);
        assert!(q.is_empty());
    }
}
