//! Prefetch: read pages into the cache ahead of need (right siblings of a range scan, the next
//! pages of an overflow chain), on a background thread, so the reader's next read is a hit.
//!
//! A prefetch is a hint: requests beyond the bounded queue are dropped, and errors are ignored
//! (the real read reports them). The worker holds only a weak reference to the pager and ends
//! when the pager is dropped.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Weak};

use super::Pager;
use crate::limits::PREFETCH_QUEUE_MAX;
use crate::{Lsn, PageBuf, PageId, PageLog};

/// One request: a page as a snapshot sees it.
pub(crate) type Request = (Lsn, PageId);

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
            let sender = start(Arc::downgrade(&pager));
            pager.prefetcher.set(sender).expect("set once, here");
        }
        pager
    }
}

impl<L: PageLog> Pager<L> {
    /// Asks for `page_ids`, as `snapshot` sees them, to be read into the cache in the
    /// background. Returns how many were queued: none without a cache or unless the pager was
    /// made shared with [`Pager::into_shared`]; requests past a full queue are dropped.
    pub fn prefetch(&self, snapshot: Lsn, page_ids: &[PageId]) -> usize {
        let Some(sender) = self.prefetcher.get() else { return 0 };
        page_ids.iter().filter(|&&page_id| sender.try_send((snapshot, page_id)).is_ok()).count()
    }
}

/// Starts the worker; its queue's sender lives in the pager.
fn start<L: PageLog + 'static>(pager: Weak<Pager<L>>) -> SyncSender<Request>
where
    Pager<L>: Send + Sync,
{
    let (sender, receiver) = sync_channel(PREFETCH_QUEUE_MAX);
    std::thread::spawn(move || work(&pager, &receiver));
    sender
}

fn work<L: PageLog>(pager: &Weak<Pager<L>>, receiver: &Receiver<Request>) {
    let mut buffer = None;
    while let Ok((snapshot, page_id)) = receiver.recv() {
        let Some(pager) = pager.upgrade() else { return };
        let page =
            buffer.get_or_insert_with(|| PageBuf::zeroed(pager.state_read().file.page_size()));
        if pager.read_at(snapshot, page_id, page).is_ok() {
            pager.counters.prefetched.fetch_add(1, Ordering::Relaxed);
        }
    }
}
