//! The device's signing key. Made at the first start, kept only in the device's own store (a
//! backup of the store keeps it, so a restored tablet signs as before), and used to sign every
//! record version when it is queued: the signature is part of the frozen outbox payload.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signer, SigningKey};
use rusqlite::{Transaction, params};
use shared::auth::RegisterDeviceRequest;
use shared::inspection::Inspection;
use shared::sync::{Mutation, MutationOp};

use crate::core::AppCore;
use crate::error::{CoreError, CoreResult};
use crate::store::{meta_get, meta_set};

const SIGNING_KEY: &str = "signing_key";

/// Makes the key once; a no-op when the store holds one.
pub(crate) fn ensure_key(tx: &Transaction<'_>) -> CoreResult<()> {
    if meta_get(tx, SIGNING_KEY)?.is_none() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        meta_set(tx, SIGNING_KEY, &hex::encode(key.to_bytes()))?;
    }
    Ok(())
}

fn key_from(hex_seed: &str) -> CoreResult<SigningKey> {
    let bytes: [u8; 32] = hex::decode(hex_seed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CoreError::internal("signing key unreadable"))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Signs every queued submission that has no signature yet (queued by a version of the app
/// that did not sign). One that the server already applied is answered from its stored result
/// without a check, so signing it now changes nothing there.
pub(crate) fn sign_unsigned_outbox(tx: &Transaction<'_>) -> CoreResult<u32> {
    let Some(seed) = meta_get(tx, SIGNING_KEY)? else { return Ok(0) };
    let key = key_from(&seed)?;
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT seq, payload FROM outbox WHERE state = 'pending'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut n = 0;
    for (seq, payload) in rows {
        let mut m: Mutation = serde_json::from_str(&payload)?;
        let MutationOp::SubmitInspection { inspection, signature } = &mut m.op else { continue };
        if signature.is_none() {
            *signature = Some(sign_with(&key, inspection));
            tx.execute(
                "UPDATE outbox SET payload = ?2 WHERE seq = ?1",
                params![seq, serde_json::to_string(&m)?],
            )?;
            n += 1;
        }
    }
    Ok(n)
}

/// A reviewer's decision signed with the device's key.
pub(crate) fn sign_review_with(
    key: &SigningKey,
    record_id: &shared::InspectionId,
    version: u32,
    decision: shared::review::ReviewDecision,
    comment: &str,
) -> String {
    B64.encode(key.sign(&shared::signing::review_bytes(record_id, version, decision, comment)).to_bytes())
}

fn sign_with(key: &SigningKey, i: &Inspection) -> String {
    B64.encode(key.sign(&shared::signing::inspection_bytes(i)).to_bytes())
}

impl AppCore {
    fn signing_key(&self) -> CoreResult<SigningKey> {
        let seed = self.meta(SIGNING_KEY)?.ok_or_else(|| CoreError::internal("no signing key"))?;
        key_from(&seed)
    }

    /// The device's public key as it is registered (base64 of 32 bytes).
    pub fn public_key(&self) -> CoreResult<String> {
        Ok(B64.encode(self.signing_key()?.verifying_key().to_bytes()))
    }

    /// The device's signature over a record version.
    pub fn sign(&self, i: &Inspection) -> CoreResult<String> {
        Ok(sign_with(&self.signing_key()?, i))
    }

    /// The device's key, read before a write transaction that signs (the store's lock is not
    /// re-entrant).
    pub(crate) fn key_for_signing(&self) -> CoreResult<SigningKey> {
        self.signing_key()
    }

    /// What the device registers with: its id, name, platform and public key.
    pub fn register_request(&self) -> CoreResult<RegisterDeviceRequest> {
        Ok(RegisterDeviceRequest {
            device_id: self.device_id()?,
            name: "清流巡查平板".into(),
            platform: std::env::consts::OS.into(),
            public_key: Some(self.public_key()?),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use ed25519_dalek::{Signature, VerifyingKey};

    use super::*;

    /// Whether `signature` is this device's over `i` (what the server checks).
    pub fn signed_by(core: &AppCore, i: &Inspection, signature: Option<&str>) -> bool {
        let key: [u8; 32] = B64.decode(core.public_key().unwrap()).unwrap().try_into().unwrap();
        let Some(sig) = signature.and_then(|s| B64.decode(s).ok()).and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        VerifyingKey::from_bytes(&key)
            .unwrap()
            .verify_strict(&shared::signing::inspection_bytes(i), &Signature::from_bytes(&sig))
            .is_ok()
    }

    #[test]
    fn the_key_is_made_once_and_kept_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let first = AppCore::open(dir.path()).unwrap().public_key().unwrap();
        // Reopened (the app restarted, or the store restored from a backup): the same key.
        let again = AppCore::open(dir.path()).unwrap().public_key().unwrap();
        assert_eq!(first, again);
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(dir.path().join("app.db"), copy.path().join("app.db")).unwrap();
        assert_eq!(AppCore::open(copy.path()).unwrap().public_key().unwrap(), first);
        // Another device, another key.
        let other = tempfile::tempdir().unwrap();
        assert_ne!(AppCore::open(other.path()).unwrap().public_key().unwrap(), first);
    }
}
