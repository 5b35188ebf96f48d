//! The journal rules under the event streams real PBXs produce: duplicates, reordering, lost
//! events. Generated sequences of newCall/answer/hangup check that the outcome is consistent:
//! a state that only moves forward, redelivery that changes nothing, and `done` as Zammad's
//! table says. (The same sequences go through the HTTP push endpoint in ctihub-web's suite.)
//!
//! Cases per property: `PROPTEST_CASES` (256 by default).

use ctihub_domain::call::{CallData, CallState, Direction};
use ctihub_domain::journal::{CallSignal, SignalKind, Transition, apply};
use proptest::prelude::*;
use proptest::sample::select;

fn signal() -> impl Strategy<Value = CallSignal> {
    let kind = select(&[SignalKind::NewCall, SignalKind::Answer, SignalKind::Hangup][..]);
    let direction = select(&[Direction::Inbound, Direction::Outbound][..]);
    let users = proptest::collection::vec(select(&["Agent Smith", "voicemail", "", "user 2"][..]), 0..3);
    let cause = proptest::option::of(select(&["normalClearing", "cancel", "busy", "forwarded", "noAnswer", "x"][..]));
    (kind, direction, users, cause, 0i64..100_000).prop_map(|(kind, direction, users, cause, at)| CallSignal {
        kind,
        direction,
        from: "491711234567".into(),
        to: "4930600000".into(),
        users: users.into_iter().map(str::to_owned).collect(),
        queue: None,
        cause: cause.map(str::to_owned),
        at,
    })
}

fn fold(signals: &[CallSignal]) -> Option<CallData> {
    let mut call = None;
    for s in signals {
        match apply(call.as_ref(), s) {
            Transition::Start(c) | Transition::Update(c) => call = Some(c),
            Transition::Ignore(_) => {}
        }
    }
    call
}

fn rank(state: CallState) -> u8 {
    match state {
        CallState::Ringing => 0,
        CallState::InProgress => 1,
        CallState::Ended => 2,
    }
}

proptest! {
    #[test]
    fn state_only_moves_forward_and_ended_is_final(signals in proptest::collection::vec(signal(), 1..12)) {
        let mut call: Option<CallData> = None;
        for s in &signals {
            let before = call.clone();
            match apply(call.as_ref(), s) {
                Transition::Start(c) => {
                    prop_assert!(before.is_none());
                    call = Some(c);
                }
                Transition::Update(c) => {
                    let b = before.as_ref().unwrap();
                    prop_assert!(rank(c.state) > rank(b.state), "{:?} -> {:?}", b.state, c.state);
                    prop_assert_ne!(b.state, CallState::Ended);
                    call = Some(c);
                }
                Transition::Ignore(_) => prop_assert!(before.is_some()),
            }
        }
        // The final state is what the events say happened, whatever their order.
        let call = call.unwrap();
        let hung_up = signals.iter().any(|s| s.kind == SignalKind::Hangup);
        let answered = signals.iter().any(|s| s.kind == SignalKind::Answer);
        let expected = if hung_up {
            CallState::Ended
        } else if answered {
            CallState::InProgress
        } else {
            CallState::Ringing
        };
        prop_assert_eq!(call.state, expected);
        prop_assert_eq!(call.started_at, signals[0].at);
    }

    /// Redelivering events already delivered (retries, a PBX replaying its queue) changes nothing,
    /// wherever the copies land after their original.
    #[test]
    fn redelivery_changes_nothing(
        signals in proptest::collection::vec(signal(), 1..8),
        copies in proptest::collection::vec((any::<proptest::sample::Index>(), any::<proptest::sample::Index>()), 0..10),
    ) {
        let once = fold(&signals);
        let mut replayed: Vec<CallSignal> = signals.clone();
        for (which, after) in copies {
            let original = which.index(signals.len());
            // Insert the copy somewhere after the original's position in the replayed stream.
            let position = replayed.iter().position(|s| *s == signals[original]).unwrap();
            let at = position + 1 + after.index(replayed.len() - position);
            replayed.insert(at, signals[original].clone());
        }
        prop_assert_eq!(fold(&replayed), once);
    }

    /// The same event ten times is the event once.
    #[test]
    fn the_same_event_ten_times(signals in proptest::collection::vec(signal(), 1..6)) {
        let tenfold: Vec<CallSignal> = signals.iter().flat_map(|s| std::iter::repeat_n(s.clone(), 10)).collect();
        prop_assert_eq!(fold(&tenfold), fold(&signals));
    }

    /// Zammad's `done` table, whatever got lost or reordered: outbound calls are always done;
    /// an inbound call is done once answered by a person, or when hung up as forwarded before
    /// anybody answered.
    #[test]
    fn done_follows_zammads_table(mut signals in proptest::collection::vec(signal(), 1..10)) {
        // A PBX names one direction for all events of a call.
        let direction = signals[0].direction;
        signals.iter_mut().for_each(|s| s.direction = direction);
        let call = fold(&signals).unwrap();
        if direction == Direction::Outbound {
            prop_assert!(call.done);
        }
        if direction == Direction::Inbound && call.state == CallState::Ringing {
            prop_assert!(!call.done, "a ringing inbound call needs a callback");
        }
        if call.state == CallState::InProgress {
            prop_assert!(call.done);
        }
        if call.state == CallState::Ended {
            prop_assert!(call.ended_at.is_some());
            prop_assert!(call.duration.is_some_and(|d| d >= 0));
        }
    }
}
