//! Device signatures over record versions (Ed25519). The device keeps the private key in its
//! own store and registers the public half; the server verifies every submitted version against
//! it and keeps the signature, so a version edited in the database later no longer verifies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, VerifyingKey};
use shared::inspection::Inspection;

/// A registered public key: base64 of 32 bytes that are a valid curve point.
pub fn parse_public_key(b64: &str) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = B64.decode(b64.trim()).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Whether `signature` (base64 of 64 bytes) is `key`'s signature over the version.
pub fn verifies(key: &str, i: &Inspection, signature: &str) -> bool {
    verifies_bytes(key, &shared::signing::inspection_bytes(i), signature)
}

/// Whether `signature` (base64 of 64 bytes) is `key`'s signature over `bytes`.
pub fn verifies_bytes(key: &str, bytes: &[u8], signature: &str) -> bool {
    let Some(key) = parse_public_key(key) else { return false };
    let Some(sig) = B64.decode(signature.trim()).ok().and_then(|b| <[u8; 64]>::try_from(b).ok()) else {
        return false;
    };
    key.verify_strict(bytes, &Signature::from_bytes(&sig)).is_ok()
}
