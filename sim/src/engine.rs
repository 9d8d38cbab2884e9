//! TEMPORARY stand-in; replaced by the engine branch.
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub use fakes::time::VirtualTime;

pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(VirtualTime, u64)>>,
    items: std::collections::BTreeMap<u64, E>,
    seq: u64,
}
impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}
impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            items: Default::default(),
            seq: 0,
        }
    }
    pub fn push(&mut self, at: VirtualTime, e: E) {
        self.heap.push(Reverse((at, self.seq)));
        self.items.insert(self.seq, e);
        self.seq += 1;
    }
    pub fn pop(&mut self) -> Option<(VirtualTime, E)> {
        let Reverse((t, s)) = self.heap.pop()?;
        Some((t, self.items.remove(&s).unwrap()))
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    pub fn clear(&mut self) {
        self.heap.clear();
        self.items.clear();
        self.seq = 0;
    }
}

pub fn derive_seed(master: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h ^ master
}

pub fn rng_for(master: u64, name: &str) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha8Rng::seed_from_u64(derive_seed(master, name))
}
