//! A small W3C WebDriver client over HTTP (reqwest), enough to drive the real webview through
//! tauri-driver + WebKitWebDriver: sessions, elements, clicks, keys, text, scripts and
//! screenshots. Waiting is polling against a deadline, never a fixed sleep.

use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
}

#[derive(Debug, Clone)]
pub struct El(pub String);

impl Driver {
    /// Open a session of the Tauri app `binary` on a tauri-driver at `base`.
    pub async fn tauri(base: &str, binary: &str) -> Driver {
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "wry", "tauri:options": {"application": binary}}}});
        Self::session(base, caps).await
    }

    /// Open a headless Debian Chromium on a chromedriver at `base`, its profile in `profile`.
    pub async fn chromium(base: &str, profile: &std::path::Path) -> Driver {
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1400,1000".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}});
        Self::session(base, caps).await
    }

    async fn session(base: &str, caps: Value) -> Driver {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match http.post(format!("{base}/session")).json(&caps).send().await {
                Ok(r) => {
                    let v: Value = r.json().await.expect("session answer");
                    let id = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}"));
                    return Driver { http, base: base.to_string(), session: id.to_string() };
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("WebDriver not reachable at {base}: {e}"),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{}", self.base, self.session, path)
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let r = self.http.post(self.url(path)).json(&body).send().await.map_err(|e| e.to_string())?;
        let ok = r.status().is_success();
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        if ok { Ok(v["value"].clone()) } else { Err(v.to_string()) }
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let r = self.http.get(self.url(path)).send().await.map_err(|e| e.to_string())?;
        let ok = r.status().is_success();
        let v: Value = r.json().await.map_err(|e| e.to_string())?;
        if ok { Ok(v["value"].clone()) } else { Err(v.to_string()) }
    }

    pub async fn find(&self, css: &str) -> Option<El> {
        let v = self.post("/element", json!({"using": "css selector", "value": css})).await.ok()?;
        v[ELEMENT].as_str().map(|s| El(s.to_string()))
    }

    pub async fn find_all(&self, css: &str) -> Vec<El> {
        match self.post("/elements", json!({"using": "css selector", "value": css})).await {
            Ok(Value::Array(a)) => {
                a.iter().filter_map(|v| v[ELEMENT].as_str().map(|s| El(s.to_string()))).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Wait until `css` matches, up to `secs`.
    pub async fn wait(&self, css: &str, secs: u64) -> El {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            if Instant::now() >= deadline {
                self.failure_artifacts().await;
                panic!("timed out waiting for {css}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Wait until the text of `css` satisfies `pred`; answers the text.
    pub async fn wait_text(&self, css: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = String::new();
        loop {
            if let Some(e) = self.find(css).await {
                last = self.text(&e).await;
                if pred(&last) {
                    return last;
                }
            }
            if Instant::now() >= deadline {
                self.failure_artifacts().await;
                panic!("timed out waiting on the text of {css} (last: {last:?})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Go to a URL.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url})).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Run an async script: the last argument is the callback that ends it.
    pub async fn script_async(&self, script: &str) -> Value {
        self.post("/execute/async", json!({"script": script, "args": []}))
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}"))
    }

    pub async fn click(&self, css: &str) {
        let e = self.wait(css, 20).await;
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    /// Draw strokes on `el` with W3C pointer actions (press, move through the points, lift),
    /// each point relative to the element's centre, as a finger or stylus does.
    pub async fn draw_strokes(&self, el: &El, strokes: &[Vec<(i64, i64)>]) {
        let mut actions = Vec::new();
        for stroke in strokes {
            let Some(&(x0, y0)) = stroke.first() else { continue };
            actions.push(
                json!({"type": "pointerMove", "duration": 0, "origin": {ELEMENT: el.0}, "x": x0, "y": y0}),
            );
            actions.push(json!({"type": "pointerDown", "button": 0}));
            for &(x, y) in &stroke[1..] {
                actions.push(
                    json!({"type": "pointerMove", "duration": 16, "origin": {ELEMENT: el.0}, "x": x, "y": y}),
                );
            }
            actions.push(json!({"type": "pointerUp", "button": 0}));
        }
        let body = json!({"actions": [{"type": "pointer", "id": "stylus", "parameters": {"pointerType": "mouse"}, "actions": actions}]});
        self.post("/actions", body).await.unwrap_or_else(|e| panic!("pointer actions: {e}"));
        let _ = self.http.delete(self.url("/actions")).send().await;
    }

    pub async fn click_el(&self, e: &El) {
        self.post(&format!("/element/{}/click", e.0), json!({})).await.expect("click");
    }

    pub async fn type_el(&self, e: &El, text: &str) {
        self.post(&format!("/element/{}/value", e.0), json!({"text": text})).await.expect("type");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css, 20).await;
        self.post(&format!("/element/{}/value", e.0), json!({"text": text}))
            .await
            .unwrap_or_else(|err| panic!("type into {css}: {err}"));
    }

    pub async fn clear(&self, css: &str) {
        let e = self.wait(css, 20).await;
        self.post(&format!("/element/{}/clear", e.0), json!({}))
            .await
            .unwrap_or_else(|err| panic!("clear {css}: {err}"));
    }

    pub async fn text(&self, e: &El) -> String {
        self.get(&format!("/element/{}/text", e.0))
            .await
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }

    /// Wait until attribute `name` of `css` satisfies `pred`, up to `secs`; answers it.
    pub async fn wait_attr(&self, css: &str, name: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(e) = self.find(css).await {
                last = self.attr(&e, name).await;
                if last.as_deref().is_some_and(&pred) {
                    return last.unwrap_or_default();
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting on {name} of {css} (last: {last:?})");
    }

    pub async fn attr(&self, e: &El, name: &str) -> Option<String> {
        self.get(&format!("/element/{}/attribute/{name}", e.0))
            .await
            .ok()
            .and_then(|v| v.as_str().map(String::from))
    }

    pub async fn script(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
            .unwrap_or_else(|e| panic!("script: {e}"))
    }

    /// Resize the window (the viewport follows, less any window decorations).
    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await
            .unwrap_or_else(|e| panic!("window rect: {e}"));
    }

    /// Wait until the page has drawn two more frames.
    pub async fn next_frame(&self) {
        self.script_async(
            "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
        )
        .await;
    }

    /// The page's viewport width and the width of its content: equal when nothing scrolls
    /// sideways.
    pub async fn widths(&self) -> (i64, i64) {
        let v = self
            .script(
                "return [window.innerWidth, document.documentElement.scrollWidth, document.body.scrollWidth]",
            )
            .await;
        let n = |i: usize| v[i].as_i64().unwrap_or(0);
        (n(0), n(1).max(n(2)))
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let v = self.get("/screenshot").await.expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("base64 png");
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).expect("artifact dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// On a failed wait: a screenshot and the page's visible text, for the CI log.
    async fn failure_artifacts(&self) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
        if let Ok(v) = self.get("/screenshot").await
            && let Ok(png) = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default())
        {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join("failure.png"), png);
        }
        if let Ok(v) =
            self.post("/execute/sync", json!({"script": "return document.body.innerText", "args": []})).await
        {
            eprintln!("page text at failure:\n{}", v.as_str().unwrap_or_default());
        }
    }

    pub async fn quit(self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
    }
}

/// Debian's chromedriver on a free port with its profile under `home`; answers the process and
/// its base URL once it answers.
pub async fn chromedriver(home: &std::path::Path) -> (crate::process::Proc, String) {
    use std::process::{Command, Stdio};
    assert!(
        std::path::Path::new("/usr/bin/chromedriver").exists(),
        "chromedriver missing: apt install chromium-driver"
    );
    let port = crate::process::free_port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    crate::process::wait_until(30, "chromedriver up", || {
        let (http, url) = (http.clone(), format!("{base}/status"));
        async move { http.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    (crate::process::Proc(child), base)
}

/// Log in to the browser console served at `base`.
pub async fn console_login(d: &Driver, base: &str, user: &str) {
    d.goto(&format!("{base}/")).await;
    d.wait("#username", 30).await;
    d.type_into("#username", user).await;
    d.type_into("#password", crate::fixture::PASSWORD).await;
    d.click("#login").await;
    d.wait("#whoami", 20).await;
}
