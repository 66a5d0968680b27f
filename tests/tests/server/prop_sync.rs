//! Randomised pushes against the real server: any mix of replays, lost answers, overlapping
//! windows, gaps, invalid records and records whose photo has not arrived yet leaves every
//! mutation consumed exactly once, and the server's answers always agree with a model of the
//! protocol: a prefix is consumed; `rejected` consumes its sequence number; `missing_blobs` and
//! `gap` do not, and stop the batch.

use proptest::prelude::*;
use qingliu_tests::records::*;
use shared::sync::{Mutation, MutationOutcome};

use crate::{inspector, setup};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Valid,
    Invalid,
    NeedsPhoto,
}

#[derive(Debug, Clone)]
struct Attempt {
    start: usize,
    len: usize,
    upload_photos: bool,
}

fn scenario() -> impl Strategy<Value = (Vec<Kind>, Vec<Attempt>)> {
    let kind = prop_oneof![6 => Just(Kind::Valid), 2 => Just(Kind::Invalid), 2 => Just(Kind::NeedsPhoto)];
    prop::collection::vec(kind, 1..10).prop_flat_map(|kinds| {
        let n = kinds.len();
        let attempt = (0..n, 1..=n, prop::bool::weighted(0.2))
            .prop_map(|(start, len, upload_photos)| Attempt { start, len, upload_photos });
        (Just(kinds), prop::collection::vec(attempt, 0..12))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    #[test]
    fn random_windows_consume_each_mutation_once((kinds, tries) in scenario()) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let (server, fx) = setup().await;
            let (c, device) = inspector(&server, "inspector_a").await;
            let n = kinds.len();
            let mut photos = Vec::new();
            let muts: Vec<Mutation> = kinds
                .iter()
                .enumerate()
                .map(|(k, kind)| {
                    let mut i = water_body(fx.site("water1").id, vec![], None);
                    match kind {
                        Kind::Valid => {}
                        Kind::Invalid => i.notes = "过长".repeat(2000),
                        Kind::NeedsPhoto => {
                            let p = vec![k as u8; 1000 + k];
                            i.photos.push(photo_ref(&p));
                            photos.push(p);
                        }
                    }
                    submit(k as u64 + 1, &i)
                })
                .collect();
            let mut uploaded = false;
            let mut consumed = 0usize; // the model: how many sequence numbers the server consumed
            let mut first: Vec<Option<MutationOutcome>> = vec![None; n];
            let converge = Attempt { start: 0, len: n, upload_photos: true };
            for t in tries.iter().chain(std::iter::once(&converge)) {
                if t.upload_photos && !uploaded {
                    for p in &photos {
                        c.upload(p, 400).await.unwrap();
                    }
                    uploaded = true;
                }
                let end = (t.start + t.len).min(n);
                let r = c.push(&batch(device, muts[t.start..end].to_vec())).await.unwrap();
                // What the model expects.
                let mut expect_consumed = consumed;
                if t.start <= consumed {
                    for (k, kind) in kinds.iter().enumerate().take(end).skip(consumed) {
                        if *kind == Kind::NeedsPhoto && !uploaded {
                            break;
                        }
                        expect_consumed = k + 1;
                    }
                }
                assert_eq!(r.last_applied_seq as usize, expect_consumed, "attempt {t:?}");
                for res in &r.results {
                    let k = res.seq as usize - 1;
                    if k < consumed {
                        assert!(res.duplicate, "seq {} should be a duplicate", res.seq);
                        assert_eq!(Some(&res.outcome), first[k].as_ref(), "a duplicate answers with the original");
                    } else if k < expect_consumed {
                        assert!(!res.duplicate);
                        match kinds[k] {
                            Kind::Invalid => assert!(matches!(res.outcome, MutationOutcome::Rejected { .. }), "{res:?}"),
                            _ => assert!(matches!(res.outcome, MutationOutcome::Applied { .. }), "{res:?}"),
                        }
                        first[k] = Some(res.outcome.clone());
                    } else if t.start > consumed {
                        assert_eq!(res.outcome, MutationOutcome::Gap { expected_seq: consumed as u64 + 1 });
                    } else {
                        assert!(matches!(res.outcome, MutationOutcome::MissingBlobs { .. }), "{res:?}");
                    }
                }
                consumed = expect_consumed;
            }
            assert_eq!(consumed, n);
            let valid = kinds.iter().filter(|k| **k != Kind::Invalid).count();
            let versions = server.state.store.read().unwrap().count_versions().unwrap();
            assert_eq!(versions as usize, valid, "each accepted inspection stored exactly once");
        });
    }
}
