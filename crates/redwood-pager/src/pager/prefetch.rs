//! Prefetch: read pages into the cache ahead of need (right siblings of a range scan, the next
//! pages of an overflow chain), on a background thread, so the reader's next read is a hit.
//!
//! A prefetch is a hint: requests beyond the bounded queue are dropped, and errors are ignored
//! (the real read reports them). The worker holds only a weak reference to the pager, upgraded
//! while it reads a page, so it can be the last holder for a moment: whoever closes the pager
//! calls `stop_prefetch` first, which ends and joins the worker, so the pager (and its file
//! lock) is released when its owner drops it, not a moment later on the worker's thread.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, PoisonError, Weak};
use std::thread::JoinHandle;

use super::Pager;
use crate::limits::PREFETCH_QUEUE_MAX;
use crate::{Lsn, PageId, PageLog};

/// One request: a page as a snapshot sees it.
pub(crate) type Request = (Lsn, PageId);

/// The running worker: its queue and its thread.
pub(crate) struct Worker {
    sender: SyncSender<Request>,
    thread: JoinHandle<()>,
}

impl<L: PageLog + 'static> Pager<L>
where
    Pager<L>: Send + Sync,
{
    /// This pager, shared, with its prefetch worker running if it has a cache: prefetch hints
    /// ([`Pager::prefetch`], and `PageRead::prefetch` on its transactions) need a shared pager,
    /// since the worker must not keep it alive. The worker ends when the pager is dropped.
    pub fn into_shared(self) -> Arc<Self> {
        let has_cache = self.cache.is_some();
        let pager = Arc::new(self);
        if has_cache {
            let worker = start(Arc::downgrade(&pager));
            *pager.prefetcher.lock().unwrap_or_else(PoisonError::into_inner) = Some(worker);
        }
        pager
    }
}

impl<L: PageLog> Pager<L> {
    /// Asks for `page_ids`, as `snapshot` sees them, to be read into the cache in the
    /// background. Returns how many were queued: none without a cache or unless the pager was
    /// made shared with [`Pager::into_shared`]; requests past a full queue are dropped.
    pub fn prefetch(&self, snapshot: Lsn, page_ids: &[PageId]) -> usize {
        let worker = self.prefetcher.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(worker) = worker.as_ref() else { return 0 };
        page_ids
            .iter()
            .filter(|&&page_id| worker.sender.try_send((snapshot, page_id)).is_ok())
            .count()
    }

    /// Ends the prefetch worker and waits for it, dropping queued requests; later prefetches
    /// queue nothing. Call it before dropping the last handle on a shared pager, from any
    /// thread but the worker's, so that the drop releases the pager at once.
    pub fn stop_prefetch(&self) {
        let worker = self.prefetcher.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(Worker { sender, thread }) = worker {
            drop(sender);
            // A worker that panicked has nothing left to stop.
            let _ = thread.join();
        }
    }
}

/// Starts the worker; its queue's sender and its thread live in the pager.
fn start<L: PageLog + 'static>(pager: Weak<Pager<L>>) -> Worker
where
    Pager<L>: Send + Sync,
{
    let (sender, receiver) = sync_channel(PREFETCH_QUEUE_MAX);
    let thread = std::thread::spawn(move || work(&pager, &receiver));
    Worker { sender, thread }
}

fn work<L: PageLog>(pager: &Weak<Pager<L>>, receiver: &Receiver<Request>) {
    while let Ok((snapshot, page_id)) = receiver.recv() {
        let Some(pager) = pager.upgrade() else { return };
        // Read only while the snapshot is registered: once its reader has ended, a checkpoint
        // may be rewriting the data-file pages that snapshot would read (a torn read would be
        // reported as corruption), so the request is dropped.
        if !pager.snapshots.join(snapshot) {
            pager.counters.prefetch_dropped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if pager.read_at(snapshot, page_id).is_ok_and(|page| page.is_cached()) {
            pager.counters.prefetched.fetch_add(1, Ordering::Relaxed);
        }
        pager.snapshots.end(snapshot);
    }
}
