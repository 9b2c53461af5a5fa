//! `ClockPolicy`: the eviction decider. CLOCK ("second chance"): a hand sweeps the frames; a
//! referenced frame loses its reference and is passed over once, the first idle one is the
//! victim. The hand is one atomic counter (`fetch_add` per frame probed), so loaders on many
//! threads sweep together with no lock. Pure over the probe the caller gives it, so it is tested
//! on synthetic frames.

use std::sync::atomic::Ordering;

use crate::sync::AtomicUsize;

/// What probing one frame found.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameState {
    /// The probe claimed the frame (the pool latched it): the victim.
    Claimed,
    /// Pinned, latched, lost to another claimant, or not eligible (a loader at the budget's
    /// capacity takes only a frame with memory): never a victim this time round.
    Pinned,
    /// Recently used: the probe cleared its reference; passed over once.
    Referenced,
}

/// The CLOCK hand, shared by every loader.
#[derive(Debug)]
pub struct ClockPolicy {
    hand: AtomicUsize,
}

impl Default for ClockPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl ClockPolicy {
    /// A hand at frame 0.
    pub fn new() -> Self {
        Self { hand: AtomicUsize::new(0) }
    }

    /// Chooses a victim among `frame_count` frames. `probe(index)` looks at a frame and, for an
    /// unreferenced idle one, claims it ([`FrameState::Claimed`]), or clears its reference
    /// ([`FrameState::Referenced`]). Probes at most `2 × frame_count` frames (so every frame
    /// twice, if no other thread moves the hand); `None` if none could be claimed (every frame
    /// pinned).
    pub fn choose_victim(
        &self,
        frame_count: usize,
        probe: impl FnMut(usize) -> FrameState,
    ) -> Option<usize> {
        self.choose_victim_skipping(frame_count, |_| 0, probe)
    }

    /// [`ClockPolicy::choose_victim`] over the frames `skip` does not rule out: `skip(index)`
    /// says how many frames from `index` on are no candidates (0 if `index` is one), and the
    /// hand jumps past them with one add instead of probing each. The frames skipped count
    /// towards the two sweeps, so the cost is bounded by the calls to `skip` and `probe`.
    pub fn choose_victim_skipping(
        &self,
        frame_count: usize,
        mut skip: impl FnMut(usize) -> usize,
        mut probe: impl FnMut(usize) -> FrameState,
    ) -> Option<usize> {
        assert!(frame_count > 0, "a pool has frames");
        let mut passed = 0;
        while passed < 2 * frame_count {
            let index = self.hand.fetch_add(1, Ordering::Relaxed) % frame_count;
            // Never past the last frame, so the hand lands on frame 0 after a skip to the end.
            let skipped = skip(index).min(frame_count - index);
            if skipped > 0 {
                if skipped > 1 {
                    self.hand.fetch_add(skipped - 1, Ordering::Relaxed);
                }
                passed += skipped;
                continue;
            }
            passed += 1;
            if probe(index) == FrameState::Claimed {
                return Some(index);
            }
        }
        None
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// What a synthetic frame is; probing claims an idle one and clears a reference, as the pool
    /// does.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Synthetic {
        Idle,
        Referenced,
        Pinned,
        Taken,
    }

    fn run(policy: &ClockPolicy, frames: &mut [Synthetic]) -> Option<usize> {
        use Synthetic::*;
        let count = frames.len();
        policy.choose_victim(count, |index| match frames[index] {
            Idle => {
                frames[index] = Taken;
                FrameState::Claimed
            }
            Referenced => {
                frames[index] = Idle;
                FrameState::Referenced
            }
            Pinned | Taken => FrameState::Pinned,
        })
    }

    #[test]
    fn referenced_frames_get_a_second_chance_and_pinned_ones_none() {
        use Synthetic::*;
        let policy = ClockPolicy::new();
        let mut frames = [Referenced, Pinned, Referenced, Idle];
        assert_eq!(run(&policy, &mut frames), Some(3));
        assert_eq!(frames, [Idle, Pinned, Idle, Taken], "passed-over references were cleared");
        assert_eq!(run(&policy, &mut frames), Some(0), "the hand moved on");
        assert_eq!(run(&policy, &mut frames), Some(2));
        assert_eq!(run(&policy, &mut frames), None, "every frame pinned or taken");
    }

    #[test]
    fn a_frame_referenced_twice_in_a_row_survives_one_sweep_only() {
        use Synthetic::*;
        let policy = ClockPolicy::new();
        let mut frames = [Referenced, Referenced];
        assert_eq!(run(&policy, &mut frames), Some(0), "second time round, frame 0 goes");
        assert_eq!(frames, [Taken, Idle]);
    }

    #[test]
    fn a_skipping_sweep_probes_only_candidates_and_gives_up_after_two_sweeps() {
        use Synthetic::*;
        let policy = ClockPolicy::new();
        // Frames 0..6 are no candidates (skipped in runs), 6 and 7 are.
        let candidate = |index: usize| index >= 6;
        let skip = |index: usize| if candidate(index) { 0 } else { 6 - index };
        let mut frames = [Idle, Idle, Idle, Idle, Idle, Idle, Referenced, Pinned];
        let mut probed = Vec::new();
        let victim = policy.choose_victim_skipping(frames.len(), skip, |index| {
            probed.push(index);
            match frames[index] {
                Referenced => {
                    frames[index] = Idle;
                    FrameState::Referenced
                }
                Idle => FrameState::Claimed,
                Pinned | Taken => FrameState::Pinned,
            }
        });
        assert_eq!(victim, Some(6), "its second chance used, frame 6 goes");
        assert_eq!(probed, vec![6, 7, 6], "no frame that skip ruled out was probed");
        let none = policy.choose_victim_skipping(frames.len(), skip, |_| FrameState::Pinned);
        assert_eq!(none, None, "two sweeps of nothing claimable, and no endless loop");
    }

    #[test]
    fn concurrent_sweeps_claim_distinct_frames() {
        let frames: Vec<std::sync::atomic::AtomicBool> =
            (0..64).map(|_| std::sync::atomic::AtomicBool::new(false)).collect();
        let policy = ClockPolicy::new();
        let claimed: Vec<usize> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..16)
                            .map(|_| {
                                policy
                                    .choose_victim(frames.len(), |index| {
                                        if frames[index].swap(true, Ordering::AcqRel) {
                                            FrameState::Pinned
                                        } else {
                                            FrameState::Claimed
                                        }
                                    })
                                    .expect("enough frames for every claim")
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().flat_map(|worker| worker.join().unwrap()).collect()
        });
        let mut sorted = claimed.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 64, "64 claims, 64 distinct frames: {claimed:?}");
    }
}
