//! Randomised pushes against the real server: any mix of replays, lost answers, overlapping
//! windows and gaps leaves every mutation applied exactly once, and the server's answers always
//! agree with a simple model of "applied prefix".

use proptest::prelude::*;
use qingliu_tests::records::*;
use shared::sync::{Mutation, MutationOutcome};

use crate::{inspector, setup};

#[derive(Debug, Clone)]
struct Attempt {
    start: usize,
    len: usize,
}

fn attempts(n: usize) -> impl Strategy<Value = Vec<Attempt>> {
    prop::collection::vec(
        (0..n, 1..=n).prop_map(|(start, len)| Attempt { start, len }),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn random_windows_apply_each_mutation_once((n, tries) in (1usize..10).prop_flat_map(|n| (Just(n), attempts(n)))) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let (server, fx) = setup().await;
            let (c, device) = inspector(&server, "inspector_a").await;
            let muts: Vec<Mutation> = (1..=n as u64)
                .map(|seq| submit(seq, &water_body(fx.site("water1").id, vec![], None)))
                .collect();
            let mut applied = 0usize; // the model: how long a prefix the server has applied
            let mut first: Vec<Option<MutationOutcome>> = vec![None; n];
            for t in tries.iter().chain(std::iter::once(&Attempt { start: 0, len: n })) {
                let end = (t.start + t.len).min(n);
                let window = muts[t.start..end].to_vec();
                let r = c.push(&batch(device, window)).await.unwrap();
                let expected_last = if t.start <= applied { applied.max(end) } else { applied };
                assert_eq!(r.last_applied_seq as usize, expected_last, "attempt {t:?}");
                for res in &r.results {
                    let k = res.seq as usize - 1;
                    if k < applied {
                        assert!(res.duplicate, "seq {} should be a duplicate", res.seq);
                        assert_eq!(Some(&res.outcome), first[k].as_ref(), "duplicate answers with the original");
                    } else if k < expected_last {
                        assert!(!res.duplicate);
                        assert!(matches!(res.outcome, MutationOutcome::Applied { .. }), "{res:?}");
                        first[k] = Some(res.outcome.clone());
                    } else {
                        assert_eq!(res.outcome, MutationOutcome::Gap { expected_seq: applied as u64 + 1 });
                    }
                }
                applied = expected_last;
            }
            assert_eq!(applied, n);
            let versions = server.state.store.read().unwrap().count_versions().unwrap();
            assert_eq!(versions as usize, n, "each inspection stored exactly once");
        });
    }
}
