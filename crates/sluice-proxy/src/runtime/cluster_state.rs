//! A cluster's resilience state — error-rate breaker, retry budget, bulkhead and open
//! upstream connection count — kept across snapshots by cluster name, like the endpoint
//! state: a reload or an admin weight or split change rebuilds the `ClusterRt` but not
//! this, so a breaker stays open, a budget keeps its count, and `max_requests` /
//! `max_connections` hold while the change lands (requests in flight keep their permits of
//! the same bulkhead, which is resized, not replaced).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use sluice_core::breaker::Breaker;
use sluice_core::retry::RetryBudget;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::handler::errors::ProxyError;

/// What survives a cluster's reloads.
#[derive(Debug, Default)]
pub struct ClusterState {
    pub breaker: Breaker,
    pub budget: RetryBudget,
    pub bulkhead: Arc<Bulkhead>,
    /// Open upstream connections (all workers), for `max_connections`.
    pub conns_open: Arc<AtomicU32>,
}

/// `limits.max_requests` as permits, resizable in place. Shrinking below the permits in
/// use leaves a debt: permits returned while it lasts are forgotten instead of released.
#[derive(Debug)]
pub struct Bulkhead {
    sem: Arc<Semaphore>,
    /// The configured size, and how many permits still have to disappear.
    size: Mutex<u32>,
    debt: AtomicU32,
    /// Requests waiting for a permit (`max_pending`).
    pub pending: AtomicU32,
}

/// One request's slot under the bulkhead, given back (or paid to the debt) when dropped.
#[derive(Debug)]
pub struct BulkheadPermit {
    permit: Option<OwnedSemaphorePermit>,
    home: Arc<Bulkhead>,
}

impl Drop for BulkheadPermit {
    fn drop(&mut self) {
        let owed = self.home.debt.fetch_update(Relaxed, Relaxed, |d| d.checked_sub(1)).is_ok();
        if let (true, Some(p)) = (owed, self.permit.take()) {
            p.forget();
        }
    }
}

impl Default for Bulkhead {
    fn default() -> Self {
        Bulkhead {
            sem: Arc::new(Semaphore::new(0)),
            size: Mutex::new(0),
            debt: AtomicU32::new(0),
            pending: AtomicU32::new(0),
        }
    }
}

impl Bulkhead {
    /// Sets the number of permits to `n`: more are added at once; fewer are taken from the
    /// free ones first, the rest as requests in flight finish.
    pub fn resize(&self, n: u32) {
        let mut size = self.size.lock().unwrap_or_else(|p| p.into_inner());
        if n > *size {
            let mut add = n - *size;
            while add > 0 && self.debt.fetch_update(Relaxed, Relaxed, |d| d.checked_sub(1)).is_ok() {
                add -= 1;
            }
            self.sem.add_permits(add as usize);
        } else if n < *size {
            let cut = *size - n;
            let forgotten = self.sem.forget_permits(cut as usize) as u32;
            self.debt.fetch_add(cut - forgotten, Relaxed);
        }
        *size = n;
    }

    pub fn try_acquire(self: &Arc<Self>) -> Option<BulkheadPermit> {
        let p = Arc::clone(&self.sem).try_acquire_owned().ok()?;
        Some(BulkheadPermit { permit: Some(p), home: Arc::clone(self) })
    }

    pub async fn acquire(self: &Arc<Self>) -> Option<BulkheadPermit> {
        let p = Arc::clone(&self.sem).acquire_owned().await.ok()?;
        Some(BulkheadPermit { permit: Some(p), home: Arc::clone(self) })
    }

    /// Permits free right now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.sem.available_permits()
    }
}

/// A cluster's open upstream connections across all workers, and its `max_connections`.
#[derive(Debug, Default)]
pub struct ConnLimit {
    open: Arc<AtomicU32>,
    max: Option<u32>,
}

/// One open upstream connection under a `ConnLimit`; released when the connection ends.
pub struct ConnSlot(Option<Arc<AtomicU32>>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        if let Some(c) = &self.0 {
            c.fetch_sub(1, Relaxed);
        }
    }
}

impl ConnLimit {
    pub fn new(max: Option<u32>) -> Self {
        ConnLimit { open: Arc::default(), max }
    }

    /// A limit over a count kept elsewhere (`ClusterState::conns_open`, across reloads).
    pub fn shared(open: Arc<AtomicU32>, max: Option<u32>) -> Self {
        ConnLimit { open, max }
    }

    /// A slot for a new connection, or the circuit breaker when the cluster is at its cap.
    pub fn acquire(&self) -> Result<ConnSlot, ProxyError> {
        let n = self.open.fetch_add(1, Relaxed);
        if self.max.is_some_and(|max| n >= max) {
            self.open.fetch_sub(1, Relaxed);
            return Err(ProxyError::CircuitBreaker);
        }
        Ok(ConnSlot(Some(Arc::clone(&self.open))))
    }

    pub fn open(&self) -> u32 {
        self.open.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulkhead(n: u32) -> Arc<Bulkhead> {
        let b = Arc::new(Bulkhead::default());
        b.resize(n);
        b
    }

    #[test]
    fn growing_adds_permits_at_once() {
        let b = bulkhead(2);
        let held: Vec<_> = (0..2).map(|_| b.try_acquire().unwrap()).collect();
        assert!(b.try_acquire().is_none());
        b.resize(3);
        assert!(b.try_acquire().is_some());
        drop(held);
        assert_eq!(b.available(), 3);
    }

    #[test]
    fn shrinking_below_the_permits_in_use_never_lets_more_in() {
        let b = bulkhead(4);
        let mut held: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
        b.resize(2); // one free permit forgotten, one owed by the requests in flight
        assert!(b.try_acquire().is_none(), "3 in flight, limit 2");
        held.pop();
        assert!(b.try_acquire().is_none(), "the first permit back pays the debt: still 2 in flight");
        held.pop();
        let again = b.try_acquire();
        assert!(again.is_some(), "1 in flight: room for one more");
        assert!(b.try_acquire().is_none());
        drop((held, again));
        assert_eq!(b.available(), 2);
    }

    #[test]
    fn growing_again_cancels_the_debt_first() {
        let b = bulkhead(2);
        let held: Vec<_> = (0..2).map(|_| b.try_acquire().unwrap()).collect();
        b.resize(1); // one owed
        b.resize(2); // debt cancelled, nothing added
        assert!(b.try_acquire().is_none());
        drop(held);
        assert_eq!(b.available(), 2);
    }
}
