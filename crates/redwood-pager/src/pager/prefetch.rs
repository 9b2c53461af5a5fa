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
    /// Asks for `page_ids`, as `snapshot` sees them, to be read into the cache in the
    /// background. Returns how many were queued; without a cache nothing is.
    pub fn prefetch(self: &Arc<Self>, snapshot: Lsn, page_ids: &[PageId]) -> usize {
        if self.cache.is_none() {
            return 0;
        }
        let sender = self.prefetcher.get_or_init(|| start(Arc::downgrade(self)));
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
