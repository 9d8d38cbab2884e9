//! The ecosystem run's event queue: each clinic's pending items in a small queue of
//! its own, and a 4-ary heap of the clinics ordered by their earliest item.
//!
//! The pop order is exactly the [`EventQueue`](crate::engine::EventQueue)'s over all
//! items: time, then push order (one sequence number over the whole run). Each
//! clinic's queue is sorted by that key, and the heap orders the clinics by the key of
//! their earliest item, so its root holds the earliest item of the run.
//!
//! Why not one heap of every item: every clinic's plan timers are queued at the start,
//! so one heap holds tens of thousands of items and each pop sifts through all their
//! levels; the heap of clinics is a few thousand entries deep. And while a clinic's
//! message is handled, everything its actors send is for the same clinic (the driver
//! queues a clinic's sends only for that clinic), so the clinic popped last is
//! re-keyed once, at the root, before the next pop (one sift instead of a pop's sift
//! plus a sift per push). A push for another clinic already in the heap is still
//! right: the heap is rebuilt before the next pop (the driver never does this).
//! A test holds the pop order equal to [`EventQueue`](crate::engine::EventQueue)'s.

use crate::engine::VirtualTime;

/// Children per node of the clinics' heap.
const ARITY: usize = 4;

/// `(time, sequence)` packed into one `u128` whose unsigned order is the
/// `(time, sequence)` order (the time's sign bit flipped, in the high half).
#[inline(always)]
fn pack(at: VirtualTime, seq: u64) -> u128 {
    (u128::from((at.0 as u64) ^ (1 << 63)) << 64) | u128::from(seq)
}

#[inline(always)]
fn unpack_time(key: u128) -> VirtualTime {
    VirtualTime((((key >> 64) as u64) ^ (1 << 63)) as i64)
}

/// Pending items of `clinics` clinics (numbered `0..clinics`).
pub struct ClinicQueue<E> {
    /// Each clinic's items, sorted by key, latest first: the earliest is the last.
    local: Vec<Vec<(u128, E)>>,
    /// The clinics with items (and the one popped last, while it is out), by the key
    /// of their earliest item.
    heap: Vec<(u128, u32)>,
    /// In the heap (or out at its root, see `out`)?
    listed: Vec<bool>,
    /// The clinic popped last: still at the heap's root under its old key.
    out: Option<u32>,
    /// A listed clinic other than `out` got an item: rebuild the heap before popping.
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
            heap: Vec::with_capacity(clinics),
            listed: vec![false; clinics],
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
            // Its earliest item may have changed under the heap.
            self.stale |= idx + 1 == local.len();
        } else {
            self.listed[c] = true;
            self.heap.push((key, clinic));
            if self.out.is_some() {
                // Sifting could move the popped clinic from the root.
                self.stale = true;
            } else {
                let last = self.heap.len() - 1;
                sift_up(&mut self.heap, last);
            }
        }
    }

    /// Removes and returns the earliest item of the run, with its time and clinic.
    #[inline]
    pub fn pop(&mut self) -> Option<(VirtualTime, u32, E)> {
        self.settle();
        let &(_, clinic) = self.heap.first()?;
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

    /// Put the clinic popped last back in order (or out of the heap when it has no
    /// item left), and rebuild the heap if a listed clinic's earliest item changed.
    #[inline]
    fn settle(&mut self) {
        if let Some(clinic) = self.out.take() {
            // It is still at the root: nothing moved in the heap since the pop (a
            // push for another clinic only appends or marks the heap stale).
            debug_assert_eq!(self.heap.first().map(|e| e.1), Some(clinic));
            match self.local[clinic as usize].last() {
                Some(&(key, _)) => {
                    self.heap[0].0 = key;
                    sift_down(&mut self.heap, 0);
                }
                None => {
                    self.listed[clinic as usize] = false;
                    let last = self.heap.pop().expect("the root is there");
                    if !self.heap.is_empty() {
                        self.heap[0] = last;
                        sift_down(&mut self.heap, 0);
                    }
                }
            }
        }
        if self.stale {
            self.stale = false;
            for e in &mut self.heap {
                e.0 = self.local[e.1 as usize].last().expect("listed").0;
            }
            for pos in (0..self.heap.len()).rev() {
                sift_down(&mut self.heap, pos);
            }
        }
    }
}

/// Moves the entry at `pos` up until its parent's key is smaller.
#[inline(always)]
fn sift_up(heap: &mut [(u128, u32)], mut pos: usize) {
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
fn sift_down(heap: &mut [(u128, u32)], mut pos: usize) {
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
            3 => (0..clinics, prop_oneof![Just(0i64), 0i64..3, 0i64..5000])
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

    proptest! {
        /// The driver's use: the start pushes for every clinic, then each pop
        /// followed by pushes for the clinic popped.
        #[test]
        fn pops_in_the_event_queue_order(
            clinics in 1u32..40,
            ops in proptest::collection::vec(op(40), 0..400),
        ) {
            let ops: Vec<Op> = ops
                .into_iter()
                .map(|o| match o {
                    Op::Push { clinic, delay } => Op::Push { clinic: clinic % clinics, delay },
                    Op::Pop => Op::Pop,
                })
                .collect();
            let (a, b) = both(&ops, clinics, true);
            prop_assert_eq!(a, b);
        }

        /// Pushes for any clinic at any point (the heap is rebuilt): the same order.
        #[test]
        fn pops_in_order_with_pushes_for_any_clinic(
            clinics in 1u32..10,
            ops in proptest::collection::vec(op(10), 0..300),
        ) {
            let ops: Vec<Op> = ops
                .into_iter()
                .map(|o| match o {
                    Op::Push { clinic, delay } => Op::Push { clinic: clinic % clinics, delay },
                    Op::Pop => Op::Pop,
                })
                .collect();
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
