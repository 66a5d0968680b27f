//! The scale-out blob store: photos in an S3-compatible bucket, shared by every server.
//!
//! Resumable uploads keep the filesystem store's semantics (offset, hash verified at the end,
//! dedup by hash, one upload per uploader), with their state in the bucket too, so a tablet
//! whose link breaks can resume against any server behind the balancer:
//!
//! - `uploads/<user>/<hash>/size` — the declared total (user id in its 32-digit form);
//! - `uploads/<user>/<hash>/<offset>` — each chunk as it arrived (offset zero-padded to 12
//!   digits so listings sort); the upload's offset is the end of the contiguous run from 0;
//! - `uploads/<user>/<hash>/next` — `offset/size`: that offset as of the last chunk written and
//!   the declared total, so appending a chunk reads one small object instead of listing the
//!   upload (S3 listings are slower and dearer than reads). Written after its chunk, it can
//!   only lag: a server dying between the two makes the tablet re-send that one chunk. `start`
//!   (a new upload or a resume after a broken link) recomputes it from the listing;
//! - `blobs/<h0h1>/<hash>` — the finished photo, written once its SHA-256 matched.
//!
//! Listings happen once per upload start or resume and once at the end; counting a user's
//! unfinished uploads lists only that user's prefix.
//!
//! Chunks are separate objects rather than parts of an S3 multipart upload because tablets send
//! chunks far smaller than the 5 MiB minimum part. Keys are built only from a validated hash and
//! the uploader's id. The object-store client is async; its calls run on a small runtime the
//! store owns and are awaited from the blocking workers that call the `BlobStore` methods.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use sha2::{Digest, Sha256};
use shared::UserId;
use shared::sync::BlobStatus;
use shared::{ApiError, ErrorCode};

use crate::blobs::{BlobHash, BlobReader, BlobStore, MAX_PENDING_PER_USER, check_chunk, check_size};
use crate::error::{AppError, AppResult};

/// How long a readiness probe waits for the bucket.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub struct S3BlobStore {
    store: std::sync::Arc<dyn ObjectStore>,
    prefix: String,
    max_size: u64,
    runtime: Option<tokio::runtime::Runtime>,
    /// Per uploader: when their pending uploads were last listed, and that count plus the
    /// uploads this server started since (see [`S3BlobStore::too_many_pending`]).
    pending_seen: Mutex<HashMap<UserId, (Instant, usize)>>,
}

/// How long a listed count of someone's pending uploads stands in for a new listing.
const PENDING_TTL: Duration = Duration::from_secs(30);

/// Where an `s3://bucket[/prefix]` URL points; endpoint, region and credentials come from the
/// standard `AWS_*` environment variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`), never from the configuration file.
pub fn parse_url(url: &str) -> AppResult<(String, String)> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| AppError::Internal("blob store url must be s3://bucket[/prefix]".into()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(AppError::Internal("blob store url names no bucket".into()));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

fn storage(e: object_store::Error) -> AppError {
    // The client's message names the key and the endpoint, never credentials.
    AppError::BlobStore(format!("object store: {e}"))
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

fn complete(h: &BlobHash, size: u64) -> BlobStatus {
    BlobStatus { sha256: h.as_str().to_string(), size, offset: size, complete: true }
}

impl S3BlobStore {
    /// Open the bucket an `s3://bucket[/prefix]` URL names.
    pub fn open(url: &str, max_size: u64) -> AppResult<Self> {
        let (bucket, prefix) = parse_url(url)?;
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| AppError::Internal(format!("object store configuration: {e}")))?;
        Self::with_store(std::sync::Arc::new(store), &prefix, max_size)
    }

    pub fn with_store(
        store: std::sync::Arc<dyn ObjectStore>,
        prefix: &str,
        max_size: u64,
    ) -> AppResult<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("qingliu-s3")
            .enable_all()
            .build()?;
        let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
        Ok(S3BlobStore { store, prefix, max_size, runtime: Some(runtime), pending_seen: Mutex::default() })
    }

    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> AppResult<T> {
        let rt = self.runtime.as_ref().expect("runtime lives as long as the store");
        crate::store::postgres::run_on(rt, f)
            .ok_or_else(|| AppError::Internal("object store task ended".into()))
    }

    fn key(&self, rest: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{rest}", self.prefix))
    }

    fn blob_key(&self, h: &BlobHash) -> ObjectPath {
        self.key(&format!("blobs/{}/{}", &h.as_str()[..2], h.as_str()))
    }

    /// Keys stay short (the user id without hyphens): some S3-compatible servers that keep
    /// objects as files bound a key to what fits in one file name.
    fn upload_dir(&self, h: &BlobHash, uploader: &UserId) -> String {
        format!("uploads/{}/{}", uploader.0.simple(), h.as_str())
    }

    fn get(&self, key: ObjectPath) -> AppResult<Option<bytes::Bytes>> {
        let store = self.store.clone();
        self.run(async move {
            match store.get(&key).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })?
        .map_err(storage)
    }

    fn put(&self, key: ObjectPath, bytes: bytes::Bytes) -> AppResult<()> {
        let store = self.store.clone();
        self.run(async move { store.put(&key, PutPayload::from(bytes)).await })?.map_err(storage)?;
        Ok(())
    }

    /// Every object under a prefix: (key, size, last modified as Unix seconds).
    fn list(&self, prefix: &str) -> AppResult<Vec<(String, u64, i64)>> {
        let store = self.store.clone();
        let p = self.key(prefix);
        let strip = self.prefix.clone();
        self.run(async move {
            let mut out = Vec::new();
            let mut s = store.list(Some(&p));
            while let Some(m) = s.next().await {
                let m = m?;
                let key = m.location.to_string();
                let key = key.strip_prefix(&strip).unwrap_or(&key).to_string();
                out.push((key, m.size, m.last_modified.timestamp()));
            }
            out.sort();
            Ok(out)
        })?
        .map_err(storage)
    }

    fn delete_all(&self, keys: Vec<String>) -> AppResult<()> {
        let store = self.store.clone();
        let keys: Vec<ObjectPath> = keys.into_iter().map(|k| self.key(&k)).collect();
        self.run(async move {
            for k in keys {
                match store.delete(&k).await {
                    Ok(()) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })?
        .map_err(storage)
    }

    fn number(&self, key: String) -> AppResult<Option<u64>> {
        Ok(self
            .get(self.key(&key))?
            .and_then(|b| std::str::from_utf8(&b).ok().and_then(|s| s.trim().parse().ok())))
    }

    fn declared_size(&self, dir: &str) -> AppResult<Option<u64>> {
        self.number(format!("{dir}/size"))
    }

    fn set_next(&self, dir: &str, offset: u64, size: u64) -> AppResult<()> {
        self.put(self.key(&format!("{dir}/next")), bytes::Bytes::from(format!("{offset}/{size}")))
    }

    /// Where the upload stands and its declared size, from `next`.
    fn next(&self, dir: &str) -> AppResult<Option<(u64, u64)>> {
        Ok(self.get(self.key(&format!("{dir}/next")))?.and_then(|b| {
            let (offset, size) = std::str::from_utf8(&b).ok()?.trim().split_once('/')?;
            Some((offset.parse().ok()?, size.parse().ok()?))
        }))
    }

    /// The chunks of an upload in offset order, and the end of the contiguous run from 0.
    fn chunks(&self, dir: &str) -> AppResult<(Vec<(u64, u64)>, u64)> {
        let mut chunks: Vec<(u64, u64)> = self
            .list(&format!("{dir}/"))?
            .into_iter()
            .filter_map(|(k, size, _)| k.rsplit('/').next()?.parse::<u64>().ok().map(|off| (off, size)))
            .collect();
        chunks.sort();
        let mut end = 0;
        for (off, size) in &chunks {
            if *off == end {
                end += size;
            } else if *off > end {
                break;
            }
        }
        Ok((chunks, end))
    }

    fn discard(&self, dir: &str) -> AppResult<()> {
        let keys = self.list(&format!("{dir}/"))?.into_iter().map(|(k, _, _)| k).collect();
        self.delete_all(keys)
    }

    fn pending_of(&self, uploader: &UserId) -> AppResult<usize> {
        let mine = format!("uploads/{}/", uploader.0.simple());
        Ok(self.list(&mine)?.iter().filter(|(k, _, _)| k.ends_with("/size")).count())
    }

    /// Whether `uploader` may not start another upload. A listing is the dearest request an
    /// object store answers (s3s-fs walks the bucket: 143 ms against ~1 ms for a put), and
    /// listing at every new photo made it 85 % of the upload path's time. So a count listed in
    /// the last [`PENDING_TTL`], plus every upload this server started since, stands in for a
    /// listing until it reaches the limit; then the listing decides. Finished uploads still
    /// counted only bring that listing sooner; uploads other servers started meanwhile are
    /// not counted, so with n servers someone may briefly hold up to n × the limit before all
    /// of them refuse. Losing this map costs one listing per uploader.
    fn too_many_pending(&self, uploader: &UserId) -> AppResult<bool> {
        let now = Instant::now();
        {
            let mut seen = self.pending_seen.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, n)) = seen.get_mut(uploader)
                && now.duration_since(*at) < PENDING_TTL
                && *n + 1 < MAX_PENDING_PER_USER
            {
                *n += 1;
                return Ok(false);
            }
        }
        let listed = self.pending_of(uploader)?;
        let mut seen = self.pending_seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, (at, _)| now.duration_since(*at) < PENDING_TTL);
        }
        if listed >= MAX_PENDING_PER_USER {
            seen.remove(uploader);
            return Ok(true);
        }
        seen.insert(*uploader, (now, listed + 1));
        Ok(false)
    }

    /// Read the chunks back in order (each starts where the one before ended, so no listing is
    /// needed), check the hash, publish the photo and clear the upload.
    fn finish(&self, h: &BlobHash, dir: &str, size: u64) -> AppResult<BlobStatus> {
        let mut hasher = Sha256::new();
        let mut whole = Vec::with_capacity(size as usize);
        let mut chunks = Vec::new();
        let mut end = 0;
        while end < size {
            let bytes = self
                .get(self.key(&format!("{dir}/{end:012}")))?
                .filter(|b| !b.is_empty())
                .ok_or_else(|| AppError::api(ErrorCode::OffsetMismatch, "上传分片缺失，请重新开始"))?;
            hasher.update(&bytes);
            whole.extend_from_slice(&bytes);
            chunks.push(end);
            end += bytes.len() as u64;
        }
        let got = hex::encode(hasher.finalize());
        if got != h.as_str() || end != size {
            self.discard(dir)?;
            return Err(AppError::Api(
                ApiError::new(ErrorCode::HashMismatch, "上传内容的 SHA-256 与声明不符，已丢弃，请重新上传")
                    .with_detail(serde_json::json!({ "actual": got })),
            ));
        }
        self.put(self.blob_key(h), bytes::Bytes::from(whole))?;
        // The chunks just read, then the bookkeeping (`size` last: while it stands, the upload
        // is pending and a later start finds and clears what is left).
        let mut keys: Vec<String> = chunks.iter().map(|off| format!("{dir}/{off:012}")).collect();
        keys.push(format!("{dir}/next"));
        keys.push(format!("{dir}/size"));
        self.delete_all(keys)?;
        Ok(complete(h, size))
    }
}

impl Drop for S3BlobStore {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl BlobStore for S3BlobStore {
    fn start(&self, h: &BlobHash, uploader: &UserId, size: u64) -> AppResult<BlobStatus> {
        check_size(size, self.max_size)?;
        let dir = self.upload_dir(h, uploader);
        if let Some(existing) = self.exists(h)? {
            // What this uploader left of it (another uploader finished it first, or a server
            // was killed between publishing and clearing) is no longer pending: one GET when
            // nothing is left, the listing only when something is.
            if self.declared_size(&dir)?.is_some() {
                self.discard(&dir)?;
            }
            return Ok(complete(h, existing));
        }
        match self.declared_size(&dir)? {
            Some(s) if s == size => {
                // A resume: the chunks that arrived say where it stands.
                let (_, offset) = self.chunks(&dir)?;
                let offset = offset.min(size);
                if offset == size {
                    // Every byte arrived but a server stopped before publishing: finish now,
                    // or the upload would wait forever for bytes that will never come.
                    return self.finish(h, &dir, size);
                }
                self.set_next(&dir, offset, size)?;
                Ok(BlobStatus { sha256: h.as_str().to_string(), size, offset, complete: false })
            }
            declared => {
                if declared.is_none() && self.too_many_pending(uploader)? {
                    return Err(AppError::api(
                        ErrorCode::RateLimited,
                        "未完成的上传过多，请先完成或等待清理",
                    ));
                }
                // This uploader restarting with another size begins at zero. (Without a `size`
                // there are no chunks: it is written first and deleted last.)
                if declared.is_some() {
                    self.discard(&dir)?;
                }
                self.put(self.key(&format!("{dir}/size")), bytes::Bytes::from(size.to_string()))?;
                self.set_next(&dir, 0, size)?;
                Ok(BlobStatus { sha256: h.as_str().to_string(), size, offset: 0, complete: false })
            }
        }
    }

    fn append(&self, h: &BlobHash, uploader: &UserId, offset: u64, bytes: &[u8]) -> AppResult<BlobStatus> {
        if let Some(existing) = self.exists(h)? {
            return Ok(complete(h, existing));
        }
        let dir = self.upload_dir(h, uploader);
        let (current, size) = match self.next(&dir)? {
            Some(state) => state,
            None => {
                let size = self
                    .declared_size(&dir)?
                    .ok_or_else(|| AppError::api(ErrorCode::NotFound, "没有进行中的上传，请先开始上传"))?;
                (self.chunks(&dir)?.1, size)
            }
        };
        check_chunk(offset, current, bytes.len(), size)?;
        if current == size {
            // As at `start`: complete but never published.
            return self.finish(h, &dir, size);
        }
        if bytes.is_empty() {
            return Ok(BlobStatus { sha256: h.as_str().to_string(), size, offset: current, complete: false });
        }
        self.put(self.key(&format!("{dir}/{current:012}")), bytes::Bytes::copy_from_slice(bytes))?;
        let offset = current + bytes.len() as u64;
        if offset == size {
            return self.finish(h, &dir, size);
        }
        self.set_next(&dir, offset, size)?;
        Ok(BlobStatus { sha256: h.as_str().to_string(), size, offset, complete: false })
    }

    fn exists(&self, h: &BlobHash) -> AppResult<Option<u64>> {
        let store = self.store.clone();
        let key = self.blob_key(h);
        self.run(async move {
            match store.head(&key).await {
                Ok(m) => Ok(Some(m.size)),
                Err(e) if is_not_found(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })?
        .map_err(storage)
    }

    fn open(&self, h: &BlobHash) -> AppResult<Option<(BlobReader, u64)>> {
        Ok(self.get(self.blob_key(h))?.map(|b| {
            let len = b.len() as u64;
            (BlobReader::Bytes(std::io::Cursor::new(b.to_vec())), len)
        }))
    }

    fn pending_uploads(&self) -> AppResult<Vec<String>> {
        let mut out: Vec<String> = self
            .list("uploads/")?
            .into_iter()
            .filter_map(|(k, _, _)| {
                let (user, hash) = k.strip_prefix("uploads/")?.strip_suffix("/size")?.split_once('/')?;
                Some(format!("{hash}.{user}"))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn collect_stale(&self, age: Duration) -> AppResult<usize> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
        let mut touched: std::collections::BTreeMap<String, (i64, Vec<String>)> = Default::default();
        for (k, _, modified) in self.list("uploads/")? {
            let mut parts = k.strip_prefix("uploads/").unwrap_or_default().split('/');
            let (Some(user), Some(hash)) = (parts.next(), parts.next()) else { continue };
            let stem = format!("{user}/{hash}");
            let e = touched.entry(stem.to_string()).or_insert((i64::MIN, Vec::new()));
            e.0 = e.0.max(modified);
            e.1.push(k);
        }
        let mut removed = 0;
        for (_, (last, keys)) in touched {
            if now - last > age.as_secs() as i64 || age.is_zero() {
                self.delete_all(keys)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn check(&self) -> AppResult<()> {
        // A key nobody writes: "not found" is an answer from the bucket, which is all we ask.
        let store = self.store.clone();
        let key = self.key("readyz");
        // Bounded: the client's own retries would keep a probe waiting for minutes.
        let probe = tokio::time::timeout(READY_TIMEOUT, async move { store.head(&key).await });
        match self.run(probe)? {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if is_not_found(&e) => Ok(()),
            Ok(Err(e)) => Err(storage(e)),
            Err(_) => Err(AppError::BlobStore("no answer in time".into())),
        }
    }

    fn stored_hashes(&self) -> AppResult<Vec<BlobHash>> {
        let mut out: Vec<BlobHash> = self
            .list("blobs/")?
            .into_iter()
            .filter_map(|(k, _, _)| BlobHash::parse(k.rsplit('/').next()?).ok())
            .collect();
        out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use object_store::memory::InMemory;

    use super::*;

    fn hash(n: usize) -> BlobHash {
        BlobHash::parse(&format!("{n:064x}")).unwrap()
    }

    fn refused(r: AppResult<BlobStatus>) -> bool {
        matches!(r, Err(e) if e.to_api().code == ErrorCode::RateLimited)
    }

    /// A server killed after the last chunk was stored but before the blob was published (seen
    /// in the cluster soak: the tablet then sent empty appends at the end, forever).
    #[test]
    fn an_upload_whole_but_unpublished_is_finished_by_any_server() {
        let bucket: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let a = S3BlobStore::with_store(bucket.clone(), "t", 1 << 20).unwrap();
        let b = S3BlobStore::with_store(bucket, "t", 1 << 20).unwrap();
        let u = UserId::new();
        let stopped = |data: &[u8]| {
            let h = BlobHash::parse(&hex::encode(Sha256::digest(data))).unwrap();
            a.start(&h, &u, data.len() as u64).unwrap();
            let dir = a.upload_dir(&h, &u);
            a.put(a.key(&format!("{dir}/{:012}", 0)), bytes::Bytes::copy_from_slice(data)).unwrap();
            h
        };
        let h = stopped(b"every byte arrived");
        let st = b.start(&h, &u, 18).unwrap();
        assert!(st.complete, "a resume on another server finishes it: {st:?}");
        assert_eq!(a.exists(&h).unwrap(), Some(18));
        // The state a resume on an earlier build left: the next offset at the end.
        let h = stopped(b"and again, by append");
        a.set_next(&a.upload_dir(&h, &u), 20, 20).unwrap();
        let st = b.append(&h, &u, 20, &[]).unwrap();
        assert!(st.complete, "an empty append at the end finishes it: {st:?}");
        assert!(a.pending_uploads().unwrap().is_empty());
    }

    #[test]
    fn the_pending_limit_holds_without_a_listing_per_upload() {
        let bucket: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let a = S3BlobStore::with_store(bucket.clone(), "t", 1 << 20).unwrap();
        let b = S3BlobStore::with_store(bucket, "t", 1 << 20).unwrap();
        let (u, v) = (UserId::new(), UserId::new());
        for n in 0..MAX_PENDING_PER_USER {
            a.start(&hash(n), &u, 10).unwrap();
        }
        assert!(refused(a.start(&hash(1000), &u, 10)), "one over the limit on the server that counted");
        assert!(refused(b.start(&hash(1000), &u, 10)), "and on a server that never saw them");
        assert!(a.start(&hash(2000), &v, 10).is_ok(), "someone else is not limited");
        // An upload that ends (here: bytes that do not match its hash) frees its place.
        assert!(a.append(&hash(0), &u, 0, &[0; 10]).is_err());
        a.start(&hash(1000), &u, 10).unwrap();
        assert!(refused(b.start(&hash(1001), &u, 10)));
    }
}
