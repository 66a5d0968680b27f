//! A typed HTTP client for the sync-server API, as the tests and the benchmark use it.

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::auth::{DeviceInfo, LoginRequest, LoginResponse, RegisterDeviceRequest};
use shared::sync::*;
use shared::{ApiError, DeviceId, InspectionId};

/// A non-2xx answer: the status and the decoded `{code, message, fields}` body.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub error: ApiError,
}

#[derive(Clone)]
pub struct ApiClient {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl ApiClient {
    pub fn new(base: &str) -> Self {
        ApiClient { http: reqwest::Client::new(), base: base.trim_end_matches('/').to_string(), token: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// No answer at all (connection refused or cut): a failure like the server being down,
    /// never a panic, so that fault runs can go on.
    fn transport(e: reqwest::Error) -> Failure {
        Failure {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: ApiError::new(shared::ErrorCode::Unavailable, format!("no answer: {e}")),
        }
    }

    async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, Failure> {
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| Failure {
            status,
            error: ApiError::new(shared::ErrorCode::Internal, format!("read body: {e}")),
        })?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| Failure {
                status,
                error: ApiError::new(shared::ErrorCode::Internal, format!("decode: {e}")),
            })
        } else {
            let error = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                ApiError::new(shared::ErrorCode::Internal, String::from_utf8_lossy(&bytes).to_string())
            });
            Err(Failure { status, error })
        }
    }

    pub async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, Failure> {
        let resp = self.req(method, path).json(body).send().await.map_err(Self::transport)?;
        Self::decode(resp).await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let resp = self.req(Method::GET, path).send().await.map_err(Self::transport)?;
        Self::decode(resp).await
    }

    /// Any request with a raw body; answers status and the body parsed as JSON (Null if not).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, serde_json::Value) {
        let mut r = self.req(method, path).body(body);
        if let Some(ct) = content_type {
            r = r.header("content-type", ct);
        }
        let resp = r.send().await.expect("request sent");
        let status = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    pub async fn login(&mut self, username: &str, password: &str) -> Result<LoginResponse, Failure> {
        let r: LoginResponse = self
            .send_json(
                Method::POST,
                "/api/v1/auth/login",
                &LoginRequest { username: username.into(), password: password.into() },
            )
            .await?;
        self.token = Some(r.token.clone());
        Ok(r)
    }

    pub async fn logout(&self) -> Result<(), Failure> {
        let resp = self.req(Method::POST, "/api/v1/auth/logout").send().await.expect("sent");
        if resp.status().is_success() { Ok(()) } else { Self::decode::<()>(resp).await }
    }

    pub async fn register_device(&self, device_id: DeviceId, name: &str) -> Result<DeviceInfo, Failure> {
        self.send_json(
            Method::POST,
            "/api/v1/devices",
            &RegisterDeviceRequest {
                device_id,
                name: name.into(),
                platform: "test".into(),
                public_key: Some(crate::records::public_key(device_id)),
            },
        )
        .await
    }

    pub async fn push(&self, req: &PushRequest) -> Result<PushResponse, Failure> {
        self.send_json(Method::POST, "/api/v1/sync/push", req).await
    }

    pub async fn pull(
        &self,
        scope: PullScope,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<PullPage, Failure> {
        let scope = match scope {
            PullScope::Inspector => "inspector",
            PullScope::Review => "review",
        };
        let mut path = format!("/api/v1/sync/pull?scope={scope}");
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        if let Some(l) = limit {
            path.push_str(&format!("&limit={l}"));
        }
        self.get(&path).await
    }

    /// Pull a scope to the end, following cursors.
    pub async fn pull_all(
        &self,
        scope: PullScope,
        mut cursor: Option<String>,
    ) -> Result<(Vec<Change>, String), Failure> {
        let mut out = Vec::new();
        loop {
            let page = self.pull(scope, cursor.as_deref(), Some(100)).await?;
            out.extend(page.changes);
            cursor = Some(page.next_cursor.clone());
            if !page.has_more {
                return Ok((out, page.next_cursor));
            }
        }
    }

    pub async fn blob_start(&self, sha256: &str, size: u64) -> Result<BlobStatus, Failure> {
        self.send_json(Method::POST, &format!("/api/v1/blobs/{sha256}"), &BlobUploadStart { size }).await
    }

    pub async fn blob_append(
        &self,
        sha256: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<BlobStatus, Failure> {
        let resp = self
            .req(Method::PATCH, &format!("/api/v1/blobs/{sha256}?offset={offset}"))
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
            .await
            .expect("sent");
        Self::decode(resp).await
    }

    /// Upload a whole blob in chunks, resuming from the server's offset.
    pub async fn upload(&self, bytes: &[u8], chunk: usize) -> Result<BlobStatus, Failure> {
        let hash = sha256_hex(bytes);
        let mut st = self.blob_start(&hash, bytes.len() as u64).await?;
        while !st.complete {
            let from = st.offset as usize;
            let to = (from + chunk).min(bytes.len());
            st = self.blob_append(&hash, st.offset, bytes[from..to].to_vec()).await?;
        }
        Ok(st)
    }

    /// GET raw bytes (exports, downloads): status, headers and body, whatever the status.
    pub async fn get_bytes(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let resp = self.req(Method::GET, path).send().await.expect("request sent");
        let (status, headers) = (resp.status(), resp.headers().clone());
        (status, headers, resp.bytes().await.expect("body").to_vec())
    }

    pub async fn download(&self, sha256: &str) -> Result<Vec<u8>, Failure> {
        let resp = self.req(Method::GET, &format!("/api/v1/blobs/{sha256}")).send().await.expect("sent");
        if resp.status().is_success() {
            Ok(resp.bytes().await.expect("body").to_vec())
        } else {
            Self::decode::<()>(resp).await.map(|_| Vec::new())
        }
    }

    pub async fn review(
        &self,
        id: InspectionId,
        version: u32,
        decision: shared::review::ReviewDecision,
        comment: &str,
    ) -> Result<InspectionRecord, Failure> {
        self.send_json(
            Method::POST,
            &format!("/api/v1/inspections/{id}/review"),
            &ReviewRequest { version, decision, comment: comment.into() },
        )
        .await
    }

    pub async fn inspection(&self, id: InspectionId) -> Result<serde_json::Value, Failure> {
        self.get(&format!("/api/v1/inspections/{id}")).await
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
