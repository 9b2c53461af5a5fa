//! `ClockPolicy`: the eviction decider. CLOCK ("second chance"): a hand sweeps the frames; a
//! referenced frame loses its reference and is passed over once, an unreferenced unpinned one is
//! the victim. Pure over the probe the caller gives it, so it is tested on synthetic frames.

/// What the policy may know about one frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameState {
    /// Holds nothing: take it first.
    Empty,
    /// In use by a pin: never a victim.
    Pinned,
    /// Cached and recently used: clear the reference, pass over it once.
    Referenced,
    /// Cached and not recently used: a victim.
    Idle,
}

/// The CLOCK hand.
#[derive(Clone, Debug, Default)]
pub struct ClockPolicy {
    hand: usize,
}

impl ClockPolicy {
    /// Chooses a victim among `frame_count` frames. `probe(index)` reports a frame's state and,
    /// for a referenced frame, clears its reference (the second chance). Sweeps at most twice
    /// around; `None` if every frame is pinned.
    pub fn choose_victim(
        &mut self,
        frame_count: usize,
        mut probe: impl FnMut(usize) -> FrameState,
    ) -> Option<usize> {
        assert!(frame_count > 0, "a pool has frames");
        for _ in 0..2 * frame_count {
            let index = self.hand;
            self.hand = (self.hand + 1) % frame_count;
            match probe(index) {
                FrameState::Empty | FrameState::Idle => return Some(index),
                FrameState::Pinned | FrameState::Referenced => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic frames: probing a referenced frame clears it, as the pool does.
    fn run(policy: &mut ClockPolicy, frames: &mut [FrameState]) -> Option<usize> {
        let count = frames.len();
        policy.choose_victim(count, |index| {
            let state = frames[index];
            if state == FrameState::Referenced {
                frames[index] = FrameState::Idle;
            }
            state
        })
    }

    #[test]
    fn referenced_frames_get_a_second_chance_and_pinned_ones_none() {
        use FrameState::*;
        let mut policy = ClockPolicy::default();
        let mut frames = [Referenced, Pinned, Referenced, Idle];
        assert_eq!(run(&mut policy, &mut frames), Some(3));
        assert_eq!(frames, [Idle, Pinned, Idle, Idle], "passed-over references were cleared");
        assert_eq!(run(&mut policy, &mut frames), Some(0), "the hand moved on");
        let mut all_pinned = [Pinned, Pinned];
        assert_eq!(run(&mut policy, &mut all_pinned), None);
    }

    #[test]
    fn empty_frames_are_taken_in_hand_order() {
        use FrameState::*;
        let mut policy = ClockPolicy::default();
        let mut frames = [Pinned, Empty, Empty];
        assert_eq!(run(&mut policy, &mut frames), Some(1));
        assert_eq!(run(&mut policy, &mut frames), Some(2));
    }
}
