//! Checks that must hold of a server at rest, shared by the tests and the soak runs.

use sync_server::store::Store;

/// Every maintained counter equals a full recount from the sites.
pub fn counters_match_recount(store: &dyn Store) -> Result<(), String> {
    let mut tx = store.read().map_err(|e| e.to_string())?;
    let maintained: std::collections::BTreeMap<_, _> =
        tx.all_counters().map_err(|e| e.to_string())?.into_iter().collect();
    let recount: std::collections::BTreeMap<_, _> = sync_server::domain::rollup::recount(tx.as_mut())
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .collect();
    if maintained == recount {
        Ok(())
    } else {
        Err(format!("maintained counters differ from a full recount:\n{maintained:?}\n{recount:?}"))
    }
}
