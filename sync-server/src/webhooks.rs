//! The webhook dispatcher: a task in every server that delivers each subscription's changes to
//! its URL, in feed order, signed, retried with backoff, without ever touching the push path.
//!
//! - A subscription is delivered by one server at a time: it is leased in the database
//!   (`claim_webhooks`) for the length of one delivery, so order holds across a cluster.
//! - Its cursor moves only when the receiver answers 2xx, so nothing is skipped by a failure;
//!   a receiver that times out after processing gets the same changes again (deliveries are at
//!   least once: receivers deduplicate by `seq`).
//! - A failing receiver is retried after `webhook_retry_base_ms`, doubling up to
//!   `webhook_retry_max_secs`. Once it has been failing for `webhook_give_up_hours`, each
//!   delivery gets one attempt and is skipped (counted as given up) if it fails, so a receiver
//!   that comes back is not handed days of backlog one retry at a time; a success resets it.
//! - Idle subscriptions (nothing new in the feed) cost one read per tick and no write.
//!
//! Signature: `x-qingliu-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.

use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::AppState;
use crate::domain::Actor;
use crate::store::WebhookRow;

/// How often a server looks for subscriptions with something to deliver.
const TICK: Duration = Duration::from_millis(200);
/// How long one delivery holds its subscription's lease: well past the receiver's time to
/// answer, so that no other server starts the next delivery while this one is in flight.
fn lease_ms(cfg: &crate::config::Config) -> i64 {
    (cfg.webhook_timeout_secs as i64).saturating_mul(2).saturating_add(60).saturating_mul(1000)
}
/// Most changes in one delivery.
const BATCH: u32 = 100;

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// The `x-qingliu-signature` header of a delivery made at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    format!("t={t},v1={}", hex::encode(hmac_sha256(secret.as_bytes(), &message)))
}

/// The wait before retry number `attempts` (1 = the first retry).
pub fn backoff(attempts: u32, base_ms: u64, max_secs: u64) -> Duration {
    let factor = 1u64 << attempts.saturating_sub(1).min(30);
    Duration::from_millis(base_ms.saturating_mul(factor)).min(Duration::from_secs(max_secs))
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Run until the server stops.
pub async fn run(state: AppState) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(state.config.webhook_timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("qingliu-webhooks/1")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client not built: no deliveries");
            return;
        }
    };
    loop {
        match claim(&state).await {
            // Each delivery runs on its own (a slow receiver holds only its own subscription,
            // whose lease keeps other ticks and servers off it until it is done).
            Ok(claimed) => {
                for w in claimed {
                    tokio::spawn(deliver(state.clone(), client.clone(), w));
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhooks not claimed"),
        }
        tokio::time::sleep(TICK).await;
    }
}

/// Lease the subscriptions that have something to deliver and are due; a read first, so an
/// idle server writes nothing.
async fn claim(state: &AppState) -> crate::error::AppResult<Vec<WebhookRow>> {
    let store = state.store.clone();
    let now = ms(state.now());
    let lease = lease_ms(&state.config);
    crate::blocking(move || {
        let due = |w: &WebhookRow, last: u64| {
            w.cursor < last
                && w.next_attempt_at.is_none_or(|t| t <= now)
                && w.lease_until.is_none_or(|t| t <= now)
        };
        {
            let mut tx = store.read()?;
            let last = tx.feed_last()?;
            if !tx.webhooks(None)?.iter().any(|w| due(w, last)) {
                return Ok(Vec::new());
            }
        }
        let mut tx = store.write()?;
        let last = tx.feed_last()?;
        let claimed = tx.claim_webhooks(now, now + lease, 16)?;
        // Claimed but with nothing new: give the lease back at once.
        let (work, idle): (Vec<_>, Vec<_>) = claimed.into_iter().partition(|w| w.cursor < last);
        for w in &idle {
            tx.save_webhook_state(w)?;
        }
        tx.commit()?;
        Ok(work)
    })
    .await
}

async fn deliver(state: AppState, client: reqwest::Client, mut w: WebhookRow) {
    let store = state.store.clone();
    let owner = w.owner;
    let (cursor, events) = (w.cursor, crate::domain::webhooks::events_of(&w));
    // The owner's scope, as when they read the feed themselves.
    let page = crate::blocking(move || {
        let user = store.read()?.user_by_id(&owner)?;
        let Some(user) = user.filter(|u| !u.disabled) else { return Ok(None) };
        let actor = Actor { user: user.info, token_hash: Vec::new() };
        crate::domain::feed::page(store.as_ref(), &actor, cursor, Some(BATCH)).map(Some)
    })
    .await;
    let now = state.now();
    let page = match page {
        Ok(Some(p)) => p,
        Ok(None) => {
            // The owner is gone or disabled: nothing is delivered in their name.
            w.next_attempt_at = Some(ms(now) + 60_000);
            w.last_error = Some("订阅者已停用".into());
            return save(&state, w).await;
        }
        Err(e) => {
            tracing::warn!(webhook = %w.id, error = %e, "webhook page not read");
            w.next_attempt_at = Some(ms(now) + 5_000);
            return save(&state, w).await;
        }
    };
    let wanted: Vec<&str> = events.iter().map(|k| crate::domain::webhooks::kind_str(*k)).collect();
    let (changes, next_cursor) = page.into_parts();
    let changes: Vec<_> = changes.into_iter().filter(|c| wanted.contains(&c.kind())).collect();
    if changes.is_empty() {
        w.cursor = next_cursor;
        return save(&state, w).await;
    }
    let n = changes.len() as u64;
    let body = match serde_json::to_vec(&serde_json::json!({
        "webhook_id": w.id, "changes": changes, "cursor": next_cursor,
    })) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(webhook = %w.id, error = %e, "delivery not encoded");
            return;
        }
    };
    let sig = signature(&w.secret, now.unix_timestamp(), &body);
    let sent = client
        .post(&w.url)
        .header("content-type", "application/json")
        .header("x-qingliu-webhook-id", &w.id)
        .header("x-qingliu-delivery", uuid::Uuid::now_v7().to_string())
        .header("x-qingliu-signature", sig)
        .body(body)
        .send()
        .await;
    let now = state.now();
    w.last_attempt_at = Some(ms(now));
    let outcome = match sent {
        Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
        Ok(r) => Err((Some(r.status().as_u16()), format!("HTTP {}", r.status().as_u16()))),
        Err(e) => Err((
            None,
            if e.is_timeout() { "接收方超时".to_string() } else { "无法连接接收方".to_string() },
        )),
    };
    match outcome {
        Ok(status) => {
            w.cursor = next_cursor;
            w.delivered += n;
            w.attempts = 0;
            w.failing_since = None;
            w.next_attempt_at = None;
            w.last_status = Some(status);
            w.last_error = None;
        }
        Err((status, error)) => {
            let cfg = &state.config;
            w.last_status = status;
            w.attempts += 1;
            let since = *w.failing_since.get_or_insert(ms(now));
            let give_up_ms = (cfg.webhook_give_up_hours as i64).saturating_mul(3_600_000);
            if ms(now) - since >= give_up_ms {
                w.last_error = Some(format!("{error}；已放弃第 {}–{next_cursor} 号变更", w.cursor + 1));
                tracing::warn!(webhook = %w.id, from = w.cursor + 1, to = next_cursor, "webhook delivery given up");
                w.given_up += n;
                w.cursor = next_cursor;
                w.attempts = 0;
                w.next_attempt_at = Some(ms(now) + (cfg.webhook_retry_max_secs as i64) * 1000);
            } else {
                w.last_error = Some(error);
                let wait = backoff(w.attempts, cfg.webhook_retry_base_ms, cfg.webhook_retry_max_secs);
                w.next_attempt_at = Some(ms(now) + wait.as_millis() as i64);
            }
        }
    }
    save(&state, w).await
}

async fn save(state: &AppState, w: WebhookRow) {
    let store = state.store.clone();
    let id = w.id.clone();
    let saved = crate::blocking(move || {
        let mut tx = store.write()?;
        tx.save_webhook_state(&w)?;
        tx.commit()?;
        Ok(())
    })
    .await;
    if let Err(e) = saved {
        // The lease runs out and the delivery is made again: at least once, never lost.
        tracing::warn!(webhook = %id, error = %e, "webhook state not saved");
    }
}

/// Start the dispatcher; the handle stops it.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn backoff_doubles_and_stops_at_the_cap() {
        let waits: Vec<u64> = (1..=12).map(|a| backoff(a, 1_000, 600).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(backoff(200, 1_000, 600).as_secs(), 600);
    }
}
