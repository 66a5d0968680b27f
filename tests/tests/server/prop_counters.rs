//! Random sequences of submissions, approvals (with random proposed statuses, legal or not),
//! returns, resubmissions and rejections: after every step the maintained counters equal a full
//! recount at every level.

use proptest::prelude::*;
use qingliu_tests::records::*;
use shared::review::ReviewDecision;
use shared::site::SiteStatus;

use crate::{assert_counters_match_recount, inspector, login, setup};

#[derive(Debug, Clone)]
enum Op {
    Submit { site: usize, status: Option<SiteStatus>, treated: Option<bool> },
    Review { record: usize, decision: ReviewDecision },
    Resubmit { record: usize },
}

const SITES: [&str; 6] = ["village1", "village2", "village3", "water1", "facility1", "village4"];

fn op() -> impl Strategy<Value = Op> {
    let status = prop::option::of(prop::sample::select(SiteStatus::ALL.to_vec()));
    prop_oneof![
        4 => (0..SITES.len(), status, prop::option::of(any::<bool>())).prop_map(|(site, status, treated)| Op::Submit { site, status, treated }),
        4 => (0..8usize, prop::sample::select(vec![ReviewDecision::Approve, ReviewDecision::Approve, ReviewDecision::Return, ReviewDecision::Reject]))
            .prop_map(|(record, decision)| Op::Review { record, decision }),
        1 => (0..8usize).prop_map(|record| Op::Resubmit { record }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn counters_equal_a_recount_after_every_step(ops in prop::collection::vec(op(), 1..25)) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let (server, fx) = setup().await;
            let (a, da) = inspector(&server, "inspector_a").await;
            let r1 = login(&server, "reviewer_1").await;
            let mut seq = 0u64;
            let mut records: Vec<shared::inspection::Inspection> = Vec::new();
            for op in ops {
                match op {
                    Op::Submit { site, status, treated } => {
                        let name = SITES[site];
                        let id = fx.site(name).id;
                        let i = if name.starts_with("village") {
                            village(id, status, treated)
                        } else if name == "water1" {
                            water_body(id, vec![], status)
                        } else {
                            let mut f = facility(id, shared::inspection::FacilityRunningState::Faulty);
                            f.proposed_status = status;
                            f
                        };
                        seq += 1;
                        let r = a.push(&batch(da, vec![submit(seq, &i)])).await.unwrap();
                        if matches!(r.results[0].outcome, shared::sync::MutationOutcome::Applied { .. }) {
                            records.push(i);
                        }
                    }
                    Op::Review { record, decision } => {
                        if let Some(i) = records.get(record) {
                            let current: serde_json::Value = r1.inspection(i.id).await.unwrap();
                            let v = current["record"]["inspection"]["version"].as_u64().unwrap() as u32;
                            // Illegal outcomes (final states, transitions that became illegal)
                            // are answered 409 and must change nothing.
                            let _ = r1.review(i.id, v, decision, "意见").await;
                        }
                    }
                    Op::Resubmit { record } => {
                        if let Some(i) = records.get(record).cloned() {
                            let next = next_version(&i);
                            seq += 1;
                            let r = a.push(&batch(da, vec![submit(seq, &next)])).await.unwrap();
                            if matches!(r.results[0].outcome, shared::sync::MutationOutcome::Applied { .. }) {
                                records[record] = next;
                            }
                        }
                    }
                }
                assert_counters_match_recount(server.state.store.as_ref());
            }
        });
    }
}
