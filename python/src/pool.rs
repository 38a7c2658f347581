//! The library stylizers behind one Python `Stylizer`: a mutex'd free list. A call takes a
//! free stylizer, or starts one while fewer than `limit` exist, or waits for one to be given
//! back; so `limit` threads paint at once, and with a limit of 1 calls take turns. A stylizer
//! whose call panicked is dropped, not given back (its buffers may be half-written).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use brushwork::{Stylizer, StylizerOptions};

use crate::{start, Failure};

pub struct Pool {
    /// How later stylizers start (the device and precision the first one settled on).
    options: StylizerOptions,
    limit: usize,
    state: Mutex<State>,
    /// Signalled when a stylizer is given back or a place frees up.
    returned: Condvar,
}

struct State {
    free: Vec<Stylizer>,
    /// Stylizers in existence: free, lent out, or starting.
    live: usize,
}

impl Pool {
    /// A pool holding `first`, which may grow to `limit` stylizers started with `options`.
    pub fn new(first: Stylizer, options: StylizerOptions, limit: usize) -> Pool {
        Pool {
            options,
            limit,
            state: Mutex::new(State {
                free: vec![first],
                live: 1,
            }),
            returned: Condvar::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock is never held while a stylizer runs, so a poisoned one has consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `work` on a stylizer of the pool (waiting for one if all `limit` are busy). Call
    /// it with the GIL released. A panic in `work` becomes a [`Failure`].
    pub fn run<T>(
        &self,
        work: impl FnOnce(&mut Stylizer) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let mut stylizer = self.take()?;
        match catch_unwind(AssertUnwindSafe(|| work(&mut stylizer))) {
            Ok(result) => {
                self.give_back(stylizer);
                result
            }
            Err(payload) => {
                drop(stylizer);
                self.forget_one();
                Err(Failure::panic(payload))
            }
        }
    }

    fn take(&self) -> Result<Stylizer, Failure> {
        let mut state = self.lock();
        loop {
            if let Some(s) = state.free.pop() {
                return Ok(s);
            }
            if state.live < self.limit {
                state.live += 1;
                drop(state);
                return start(self.options.clone()).inspect_err(|_| self.forget_one());
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn give_back(&self, stylizer: Stylizer) {
        self.lock().free.push(stylizer);
        self.returned.notify_one();
    }

    /// A stylizer that will not come back (it failed to start, or panicked): its place is free.
    fn forget_one(&self) {
        self.lock().live -= 1;
        self.returned.notify_one();
    }
}
