//! Event throughput of `sim::engine::EventQueue` (a 4-ary heap on a packed `u128` key)
//! against the naive `sim::engine::SortedVecQueue` baseline and a plain
//! `std::collections::BinaryHeap` queue, all measured in the same run.
//!
//! Run (about a minute on a 2-core VM):
//!
//! ```text
//! cargo bench -p onsim-benches --bench engine -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Workload: the classic "hold model". The queue holds N pending events (N = 16, 1024,
//! 65536); one operation pops the earliest event and pushes it back at its time plus a
//! random increment (uniform 1..=1440 minutes), so the queue stays at N. Each
//! benchmark iteration runs `OPS` such operations; criterion reports
//! `Throughput::Elements(OPS)`, i.e. events per second (one event = one pop + one push).
//! The payload is 16 bytes, about what an actor id plus a message tag takes.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sim::engine::{EventQueue, SortedVecQueue, VirtualTime};

/// Hold operations per benchmark iteration.
const OPS: u64 = 1024;
/// Pending events kept in the queue.
const SIZES: [usize; 3] = [16, 1024, 65536];

#[derive(Clone, Copy, Debug)]
struct Event {
    _actor: u32,
    _kind: u32,
    _data: u64,
}

/// xorshift64*: a few cycles per draw, so the queue dominates the measurement.
struct Rng(u64);
impl Rng {
    #[inline(always)]
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    #[inline(always)]
    fn increment(&mut self) -> i64 {
        1 + (self.next() % 1440) as i64
    }
}

/// A second reference: `std::collections::BinaryHeap` of `(time, seq)` entries, the
/// obvious implementation the 4-ary `EventQueue` replaced. Same FIFO semantics.
struct StdHeapQueue<E> {
    heap: BinaryHeap<Reverse<StdEntry<E>>>,
    seq: u64,
}
struct StdEntry<E>(VirtualTime, u64, E);
impl<E> PartialEq for StdEntry<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl<E> Eq for StdEntry<E> {}
impl<E> PartialOrd for StdEntry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for StdEntry<E> {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}
impl<E> StdHeapQueue<E> {
    fn with_capacity(n: usize) -> Self {
        StdHeapQueue {
            heap: BinaryHeap::with_capacity(n),
            seq: 0,
        }
    }
    #[inline]
    fn push(&mut self, at: VirtualTime, event: E) {
        self.seq += 1;
        self.heap.push(Reverse(StdEntry(at, self.seq, event)));
    }
    #[inline]
    fn pop(&mut self) -> Option<(VirtualTime, E)> {
        self.heap.pop().map(|Reverse(StdEntry(at, _, e))| (at, e))
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// The queues share no trait (the engine's API is inherent methods); this macro
/// gives both the very same prefill and hold loop.
macro_rules! hold_bench {
    ($group:expr, $name:literal, $queue:ty, $n:expr) => {{
        let n = $n;
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
        let mut q = <$queue>::with_capacity(n + 1);
        for i in 0..n {
            let at = VirtualTime(rng.increment());
            q.push(
                at,
                Event {
                    _actor: i as u32,
                    _kind: 1,
                    _data: i as u64,
                },
            );
        }
        $group.bench_function(BenchmarkId::new($name, n), |b| {
            b.iter(|| {
                for _ in 0..OPS {
                    let (at, ev) = q.pop().expect("hold model keeps the queue non-empty");
                    q.push(at.plus_minutes(rng.increment()), black_box(ev));
                }
            })
        });
        black_box(q.len());
    }};
}

fn hold_model(c: &mut Criterion) {
    for n in SIZES {
        let mut group = c.benchmark_group(format!("hold/N={n}"));
        group.throughput(Throughput::Elements(OPS));
        if n >= 65536 {
            // The sorted Vec moves ~N/2 entries per push: keep its run short.
            group.sample_size(10);
        }
        hold_bench!(group, "EventQueue", EventQueue<Event>, n);
        hold_bench!(group, "StdBinaryHeap", StdHeapQueue<Event>, n);
        hold_bench!(group, "SortedVecQueue", SortedVecQueue<Event>, n);
        group.finish();
    }
}

criterion_group!(benches, hold_model);
criterion_main!(benches);
