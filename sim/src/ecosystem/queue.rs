//! The ecosystem run's event queue: each clinic's pending items in a small queue of
//! its own, and the clinics ordered by their earliest item: those whose earliest item
//! is on the current day in a 4-ary heap, those of the next days in a bucket per day,
//! the rest in a second heap.
//!
//! The pop order is exactly the [`EventQueue`](crate::engine::EventQueue)'s over all
//! items: time, then push order (one sequence number over the whole run). Each
//! clinic's queue is sorted by that key; the day's heap holds every clinic whose
//! earliest item is on the current day (or before it) and every other clinic's is on
//! a later day, so the heap's root holds the earliest item of the run. When the day's
//! heap is empty the next day is the first bucket with clinics or the far heap's
//! earliest day, whichever comes first, and its clinics make the new day's heap.
//!
//! Why not one heap of every item: every clinic's plan timers are queued at the start,
//! so one heap holds tens of thousands of items and each pop sifts through all their
//! levels; a day's heap holds only the clinics busy that day. And while a clinic's
//! message is handled, everything its actors send is for the same clinic (the driver
//! queues a clinic's sends only for that clinic), so the clinic popped last is
//! re-keyed once before the next pop: kept in the day's heap with one sift from the
//! root, or moved to the bucket of its next day. A push for another clinic already
//! listed is still right: everything is re-sorted before the next pop (the driver
//! never does this). Proptests hold the pop order equal to
//! [`EventQueue`](crate::engine::EventQueue)'s.

use crate::engine::VirtualTime;

/// Children per node of the heaps.
const ARITY: usize = 4;

/// Days after the current one kept in buckets; clinics whose earliest item is later
/// wait in the far heap *(our choice; only the speed depends on it)*.
const RING_DAYS: i64 = 512;

const MINUTES_PER_DAY: i64 = 24 * 60;

/// `(time, sequence)` as two words whose order (the time's word first) is the
/// `(time, sequence)` order: the time with its sign bit flipped, then the sequence
/// number. Two `u64`s rather than one `u128`, so entries need no 16-byte alignment
/// (which takes the allocator's slow path for every clinic's queue).
/// Compared as one `u128` (a derived order on the pair compiles to slower code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(u64, u64);

impl Key {
    #[inline(always)]
    fn wide(self) -> u128 {
        (u128::from(self.0) << 64) | u128::from(self.1)
    }
}

impl PartialOrd for Key {
    #[inline(always)]
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
    #[inline(always)]
    fn lt(&self, other: &Self) -> bool {
        self.wide() < other.wide()
    }
    #[inline(always)]
    fn le(&self, other: &Self) -> bool {
        self.wide() <= other.wide()
    }
    #[inline(always)]
    fn gt(&self, other: &Self) -> bool {
        self.wide() > other.wide()
    }
    #[inline(always)]
    fn ge(&self, other: &Self) -> bool {
        self.wide() >= other.wide()
    }
}

impl Ord for Key {
    #[inline(always)]
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.wide().cmp(&other.wide())
    }
}

#[inline(always)]
fn pack(at: VirtualTime, seq: u64) -> Key {
    Key((at.0 as u64) ^ (1 << 63), seq)
}

#[inline(always)]
fn unpack_time(key: Key) -> VirtualTime {
    VirtualTime((key.0 ^ (1 << 63)) as i64)
}

/// The day of a key: days since 1955-01-01 (negative before).
#[inline(always)]
fn day_of(key: Key) -> i64 {
    unpack_time(key).0.div_euclid(MINUTES_PER_DAY)
}

/// The bucket of day `d`.
#[inline(always)]
fn bucket(d: i64) -> usize {
    d.rem_euclid(RING_DAYS) as usize
}

/// Pending items of `clinics` clinics (numbered `0..clinics`).
pub struct ClinicQueue<E> {
    /// Each clinic's items, sorted by key, latest first: the earliest is the last.
    local: Vec<Vec<(Key, E)>>,
    /// The clinics whose earliest item is on `today` or before (and the one popped
    /// last, while it is out), by the key of that item.
    near: Vec<(Key, u32)>,
    /// The clinics whose earliest item is on day `d`, `today < d < today +
    /// RING_DAYS`, in bucket `bucket(d)`, in no order.
    ring: Vec<Vec<u32>>,
    /// Clinics in `ring`.
    ring_len: usize,
    /// Every other clinic with items, by the key of its earliest.
    far: Vec<(Key, u32)>,
    /// Has items (or is out)?
    listed: Vec<bool>,
    /// The day of `near`; `None` before the first pop (every clinic waits in `far`).
    today: Option<i64>,
    /// The clinic popped last: still at `near`'s root under its old key.
    out: Option<u32>,
    /// A clinic other than `out` got an item after the first pop: sort every clinic
    /// again before popping.
    stale: bool,
    seq: u64,
}

impl<E> ClinicQueue<E> {
    /// An empty queue for clinics `0..clinics`, each with room for `per_clinic` items.
    pub fn new(clinics: usize, per_clinic: usize) -> Self {
        ClinicQueue {
            local: (0..clinics)
                .map(|_| Vec::with_capacity(per_clinic))
                .collect(),
            near: Vec::new(),
            ring: (0..RING_DAYS).map(|_| Vec::new()).collect(),
            ring_len: 0,
            far: Vec::with_capacity(clinics),
            listed: vec![false; clinics],
            today: None,
            out: None,
            stale: false,
            seq: 0,
        }
    }

    /// Schedules `item` for clinic `clinic` at `at`; among items at the same instant,
    /// earlier pushes pop first (over all clinics).
    ///
    /// # Panics
    /// If `clinic` is not below the number of clinics the queue was made for.
    #[inline]
    pub fn push(&mut self, clinic: u32, at: VirtualTime, item: E) {
        let key = pack(at, self.seq);
        self.seq += 1;
        let c = clinic as usize;
        let local = &mut self.local[c];
        // Latest first; the new key is larger than every key with the same time.
        let idx = local.partition_point(|e| e.0 > key);
        local.insert(idx, (key, item));
        if self.out == Some(clinic) {
            return; // re-keyed before the next pop
        }
        if self.listed[c] {
            // Its earliest item may have changed under the ordering.
            self.stale |= idx + 1 == local.len();
        } else {
            self.listed[c] = true;
            self.far.push((key, clinic));
            if self.today.is_none() {
                let last = self.far.len() - 1;
                sift_up(&mut self.far, last);
            } else {
                self.stale = true;
            }
        }
    }

    /// Removes and returns the earliest item of the run, with its time and clinic.
    #[inline]
    pub fn pop(&mut self) -> Option<(VirtualTime, u32, E)> {
        self.settle();
        if self.near.is_empty() {
            self.advance();
        }
        let &(_, clinic) = self.near.first()?;
        let (key, item) = self.local[clinic as usize]
            .pop()
            .expect("a listed clinic has an item");
        self.out = Some(clinic);
        Some((unpack_time(key), clinic, item))
    }

    /// The number of pending items.
    pub fn len(&self) -> usize {
        self.local.iter().map(Vec::len).sum()
    }

    /// True if no item is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Put the clinic popped last back in order (in the day's heap, in its next day's
    /// bucket, or nowhere when it has no item left), and sort every clinic again if
    /// another one's earliest item changed.
    #[inline]
    fn settle(&mut self) {
        if let Some(clinic) = self.out.take() {
            // It is still at the root: nothing moved in `near` since the pop.
            debug_assert_eq!(self.near.first().map(|e| e.1), Some(clinic));
            let today = self.today.expect("a pop set the day");
            match self.local[clinic as usize].last() {
                Some(&(key, _)) if day_of(key) <= today => {
                    self.near[0].0 = key;
                    sift_down(&mut self.near, 0);
                }
                Some(&(key, _)) => {
                    remove_root(&mut self.near);
                    self.place_later(clinic, key, today);
                }
                None => {
                    self.listed[clinic as usize] = false;
                    remove_root(&mut self.near);
                }
            }
        }
        if self.stale {
            self.stale = false;
            self.resort();
        }
    }

    /// File a clinic whose earliest item `key` is after `today`.
    #[inline]
    fn place_later(&mut self, clinic: u32, key: Key, today: i64) {
        let d = day_of(key);
        if d - today < RING_DAYS {
            self.ring[bucket(d)].push(clinic);
            self.ring_len += 1;
        } else {
            self.far.push((key, clinic));
            let last = self.far.len() - 1;
            sift_up(&mut self.far, last);
        }
    }

    /// The day's heap is empty: move to the next day with items (the first bucket
    /// with clinics or the far heap's earliest day) and make its heap.
    fn advance(&mut self) {
        let ring_next = match self.today {
            Some(today) if self.ring_len > 0 => {
                (today + 1..today + RING_DAYS).find(|&d| !self.ring[bucket(d)].is_empty())
            }
            _ => None,
        };
        let far_next = self.far.first().map(|e| day_of(e.0));
        let next = match (ring_next, far_next) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(d) => d,
                None => return,
            },
        };
        self.today = Some(next);
        if ring_next == Some(next) {
            let clinics = std::mem::take(&mut self.ring[bucket(next)]);
            self.ring_len -= clinics.len();
            for &c in &clinics {
                let key = self.local[c as usize].last().expect("listed").0;
                self.near.push((key, c));
            }
            // Keep the bucket's allocation for a later day.
            let mut clinics = clinics;
            clinics.clear();
            self.ring[bucket(next)] = clinics;
        }
        while let Some(&(key, c)) = self.far.first() {
            if day_of(key) != next {
                break;
            }
            remove_root(&mut self.far);
            self.near.push((key, c));
        }
        heapify(&mut self.near);
    }

    /// Sort every listed clinic again by its earliest item (after a push for a clinic
    /// other than the one popped last).
    fn resort(&mut self) {
        let mut all: Vec<u32> = self.near.drain(..).map(|e| e.1).collect();
        all.extend(self.far.drain(..).map(|e| e.1));
        for b in &mut self.ring {
            all.append(b);
        }
        self.ring_len = 0;
        for c in all {
            let key = self.local[c as usize].last().expect("listed").0;
            let d = day_of(key);
            // Before the first pop every clinic waits in the far heap.
            let Some(today) = self.today else {
                self.far.push((key, c));
                continue;
            };
            if d <= today {
                self.near.push((key, c));
            } else if d - today < RING_DAYS {
                self.ring[bucket(d)].push(c);
                self.ring_len += 1;
            } else {
                self.far.push((key, c));
            }
        }
        heapify(&mut self.near);
        heapify(&mut self.far);
    }
}

/// Removes a heap's root.
#[inline(always)]
fn remove_root(heap: &mut Vec<(Key, u32)>) {
    let last = heap.pop().expect("the root is there");
    if !heap.is_empty() {
        heap[0] = last;
        sift_down(heap, 0);
    }
}

/// Makes `heap` a heap.
fn heapify(heap: &mut [(Key, u32)]) {
    for pos in (0..heap.len().div_ceil(ARITY)).rev() {
        sift_down(heap, pos);
    }
}

/// Moves the entry at `pos` up until its parent's key is smaller.
#[inline(always)]
fn sift_up(heap: &mut [(Key, u32)], mut pos: usize) {
    let elem = heap[pos];
    while pos > 0 {
        let parent = (pos - 1) / ARITY;
        if heap[parent].0 <= elem.0 {
            break;
        }
        heap[pos] = heap[parent];
        pos = parent;
    }
    heap[pos] = elem;
}

/// Moves the entry at `pos` down until no child's key is smaller.
#[inline(always)]
fn sift_down(heap: &mut [(Key, u32)], mut pos: usize) {
    let len = heap.len();
    let elem = heap[pos];
    loop {
        let first = ARITY * pos + 1;
        let (best, best_key) = if first + ARITY <= len {
            // A full node (all but the last): the smallest of four keys.
            let k = &heap[first..first + ARITY];
            let (a, ka) = if k[1].0 < k[0].0 {
                (1, k[1].0)
            } else {
                (0, k[0].0)
            };
            let (b, kb) = if k[3].0 < k[2].0 {
                (3, k[3].0)
            } else {
                (2, k[2].0)
            };
            if kb < ka {
                (first + b, kb)
            } else {
                (first + a, ka)
            }
        } else if first < len {
            let mut best = first;
            let mut best_key = heap[first].0;
            for (j, e) in heap[first + 1..len].iter().enumerate() {
                if e.0 < best_key {
                    best = first + 1 + j;
                    best_key = e.0;
                }
            }
            (best, best_key)
        } else {
            break;
        };
        if elem.0 <= best_key {
            break;
        }
        heap[pos] = heap[best];
        pos = best;
    }
    heap[pos] = elem;
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
    fn both(ops: &[Op], clinics: u32, only_current: bool) -> (Popped, Popped) {
        let mut new = ClinicQueue::new(clinics as usize, 2);
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
            let (a, b) = both(&ops, clinics, true);
            prop_assert_eq!(a, b);
        }

        /// Pushes for any clinic at any point (the heap is rebuilt): the same order.
        #[test]
        fn pops_in_order_with_pushes_for_any_clinic(
            clinics in 1u32..10,
            ops in proptest::collection::vec(op(10), 0..300),
        ) {
            let ops = for_clinics(ops, clinics);
            let (a, b) = both(&ops, clinics, false);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn equal_times_pop_in_push_order_across_clinics() {
        let mut q = ClinicQueue::new(3, 1);
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
