//! A latest-frame-wins hand-off between two threads: capacity one, and a new frame replaces a
//! waiting one instead of queueing behind it. A slow consumer therefore sees fresh frames and
//! latency stays bounded; the producer gets the displaced frame back, to count the drop and to
//! reuse its buffer.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

struct State<T> {
    item: Option<T>,
    closed: bool,
}

/// See the module docs.
pub struct Slot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot {
            state: Mutex::new(State {
                item: None,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }
}

/// What [`Slot::take`] found.
#[derive(Debug, PartialEq)]
pub enum Take<T> {
    Item(T),
    /// Nothing arrived within the timeout.
    Empty,
    /// The producer is gone and nothing is left.
    Closed,
}

impl<T> Slot<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Leaves `item` for the consumer; returns the unconsumed item it replaces, if any.
    pub fn put(&self, item: T) -> Option<T> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let old = s.item.replace(item);
        self.ready.notify_one();
        old
    }

    /// Leaves `item` once the slot is empty (nothing is displaced: back-pressure instead of
    /// dropping). Returns the item if the slot was closed meanwhile.
    pub fn put_wait(&self, item: T) -> Option<T> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = self
            .ready
            .wait_while(s, |s| s.item.is_some() && !s.closed)
            .unwrap_or_else(|e| e.into_inner());
        if s.closed {
            return Some(item);
        }
        s.item = Some(item);
        self.ready.notify_all();
        None
    }

    /// Waits up to `timeout` for an item.
    pub fn take(&self, timeout: Duration) -> Take<T> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (mut s, _) = self
            .ready
            .wait_timeout_while(s, timeout, |s| s.item.is_none() && !s.closed)
            .unwrap_or_else(|e| e.into_inner());
        match s.item.take() {
            Some(item) => {
                self.ready.notify_all(); // a put_wait may be waiting for the room
                Take::Item(item)
            }
            None if s.closed => Take::Closed,
            None => Take::Empty,
        }
    }

    /// Marks the producer finished; a waiting consumer wakes. An item still waiting can be taken.
    pub fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn newest_wins_and_the_displaced_item_comes_back() {
        let slot = Slot::new();
        assert_eq!(slot.put(1), None);
        assert_eq!(slot.put(2), Some(1));
        assert_eq!(slot.take(Duration::ZERO), Take::Item(2));
        assert_eq!(slot.take(Duration::from_millis(1)), Take::Empty);
    }

    #[test]
    fn close_wakes_a_waiting_consumer_after_the_last_item() {
        let slot = Arc::new(Slot::new());
        slot.put(7);
        slot.close();
        assert_eq!(slot.take(Duration::from_secs(5)), Take::Item(7));
        assert_eq!(slot.take(Duration::from_secs(5)), Take::Closed);
    }

    #[test]
    fn every_item_is_taken_or_displaced_and_order_is_kept() {
        let slot = Arc::new(Slot::new());
        let producer = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                let mut dropped = 0u32;
                for i in 0..10_000u32 {
                    if slot.put(i).is_some() {
                        dropped += 1;
                    }
                }
                slot.close();
                dropped
            })
        };
        let mut taken = Vec::new();
        loop {
            match slot.take(Duration::from_millis(50)) {
                Take::Item(i) => {
                    taken.push(i);
                    std::thread::sleep(Duration::from_micros(200)); // a slow consumer
                }
                Take::Closed => break,
                Take::Empty => {}
            }
        }
        let dropped = producer.join().unwrap();
        assert_eq!(taken.len() as u32 + dropped, 10_000);
        assert!(
            taken.windows(2).all(|w| w[0] < w[1]),
            "fresh frames only, in order"
        );
        assert_eq!(
            *taken.last().unwrap(),
            9_999,
            "the last frame is never lost"
        );
    }
}
