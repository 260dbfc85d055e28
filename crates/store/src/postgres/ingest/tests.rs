//! The batch plan of `save_events`, event by event, without a database.

use super::*;
use crate::payload::Encoder;
use crate::test_events::error_event;

fn event(project_id: i64, n: u32, hashes: &[&str]) -> EncodedEvent {
    let event = error_event(project_id, n, f64::from(n), hashes);
    let mut batch = Encoder::new()
        .unwrap()
        .encode_batch(vec![event], |_, _| None)
        .unwrap();
    batch.events.remove(0)
}

fn issues(plan: &Plan<'_>) -> Vec<Option<IssueRef>> {
    plan.outcomes
        .iter()
        .map(|o| match o {
            Outcome::Duplicate(issue, _) => *issue,
            Outcome::Stored { issue, .. } => Some(*issue),
        })
        .collect()
}

#[test]
fn plan_applies_the_batch_event_by_event() {
    let batch = vec![
        event(1, 1, &["a"]),
        // Found by "a" (known); brings "b", mapped to the same issue.
        event(1, 2, &["b", "x"]),
        event(1, 3, &["c", "x"]),
        event(1, 1, &["z"]),
        event(2, 1, &["a"]),
    ];
    let known_events = HashMap::new();
    let known_hashes = HashMap::from([((1, "x"), 7)]);
    let plan = Plan::make(&batch, &known_events, known_hashes);
    assert_eq!(
        issues(&plan),
        vec![
            Some(IssueRef::New(0)),
            Some(IssueRef::Existing(7)),
            Some(IssueRef::Existing(7)),
            Some(IssueRef::New(0)),
            Some(IssueRef::New(1)),
        ]
    );
    assert!(matches!(
        plan.outcomes[3],
        Outcome::Duplicate(_, FlagsOf::Event(0))
    ));
    assert!(matches!(
        plan.outcomes[1],
        Outcome::Stored {
            may_regress: true,
            ..
        }
    ));
    assert!(matches!(
        plan.outcomes[2],
        Outcome::Stored {
            may_regress: false,
            ..
        }
    ));
    assert_eq!(plan.new_issues, vec![0, 4]);
    assert_eq!(plan.existing_issues, vec![7]);
    assert_eq!(
        plan.claims.into_iter().collect::<Vec<_>>(),
        vec![
            ((1, "a"), IssueRef::New(0)),
            ((1, "b"), IssueRef::Existing(7)),
            ((1, "c"), IssueRef::Existing(7)),
            ((2, "a"), IssueRef::New(1)),
        ]
    );
}

#[test]
fn a_stored_event_is_a_duplicate_with_its_issue() {
    let batch = vec![event(1, 1, &["a"])];
    let known_events = HashMap::from([(
        (1, batch[0].event.event_id.as_str()),
        (Some(3), FLAG_REGRESSED),
    )]);
    let plan = Plan::make(&batch, &known_events, HashMap::new());
    assert_eq!(issues(&plan), vec![Some(IssueRef::Existing(3))]);
    assert!(matches!(
        plan.outcomes[0],
        Outcome::Duplicate(_, FlagsOf::Stored(FLAG_REGRESSED))
    ));
    assert!(plan.claims.is_empty() && plan.new_issues.is_empty());
}
