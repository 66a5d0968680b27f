//! Configuration: defaults, then an optional TOML file, then `QINGLIU_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Directory holding `qingliu.db` and the blob directory.
    pub data_dir: PathBuf,
    /// Where records live: none or `sqlite:` for the embedded file under `data_dir`,
    /// `postgres://user@host:port/database` for the shared PostgreSQL of a cluster.
    pub database_url: Option<String>,
    /// Most connections this server keeps to PostgreSQL.
    pub database_pool_size: usize,
    /// Where photos live: none for the `blobs/` directory under `data_dir`, or
    /// `s3://bucket[/prefix]` for an S3-compatible bucket shared by several servers (endpoint and
    /// credentials from the `AWS_*` environment variables).
    pub blob_store_url: Option<String>,
    /// Bearer token lifetime. Long by default: inspectors stay offline for days.
    pub token_ttl_hours: i64,
    /// Largest accepted photo or signature scan.
    pub max_blob_bytes: u64,
    /// Largest accepted upload chunk.
    pub max_chunk_bytes: usize,
    /// Largest accepted push body.
    pub max_push_bytes: usize,
    /// Largest accepted body of any other JSON request.
    pub max_json_bytes: usize,
    /// Failed logins per username allowed within `login_window_minutes`.
    pub login_max_failures: u32,
    pub login_window_minutes: i64,
    /// Unfinished uploads untouched this long are removed.
    pub stale_upload_hours: u64,
    /// A directory holding the browser console to serve at `/` instead of the copy built into
    /// the binary (a console built after the server, or a customised one).
    pub console_dir: Option<PathBuf>,
    /// Optional map tiles for the console, `{z}/{x}/{y}` placeholders (e.g. a LAN tile server or
    /// Tianditu); without it the map draws points on a plain grid and needs no internet.
    pub map_tile_url: Option<String>,
    /// The tiles are GCJ-02 (Gaode-style): points are shifted before drawing on them.
    pub map_tile_gcj02: bool,
    /// The address people reach this server at (`https://qingliu.example.gov.cn`), for links
    /// printed in exports; without it links use the host the export was requested from.
    pub public_url: Option<String>,
    /// Serve `/metrics` (Prometheus text format) and count for it. Off by default: the page
    /// names routes and volumes, so expose it to the monitoring network only.
    pub metrics: bool,
    /// Webhooks: first retry after this many milliseconds, doubling up to `webhook_retry_max_secs`.
    pub webhook_retry_base_ms: u64,
    pub webhook_retry_max_secs: u64,
    /// A receiver failing this long has the changes of its pending delivery skipped (counted as
    /// given up) so that later ones can go.
    pub webhook_give_up_hours: u64,
    /// How long a receiver has to answer a delivery.
    pub webhook_timeout_secs: u64,
    /// Thresholds of the flags computed at push (`[flags]` in the file; each one optional).
    pub flags: shared::flags::FlagThresholds,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_pool_size: 16,
            blob_store_url: None,
            token_ttl_hours: 24 * 14,
            max_blob_bytes: shared::validate::limits::MAX_PHOTO_BYTES,
            max_chunk_bytes: 4 * 1024 * 1024,
            max_push_bytes: 16 * 1024 * 1024,
            max_json_bytes: 256 * 1024,
            login_max_failures: 5,
            login_window_minutes: 15,
            stale_upload_hours: 24 * 7,
            console_dir: None,
            map_tile_url: None,
            map_tile_gcj02: false,
            public_url: None,
            metrics: false,
            webhook_retry_base_ms: 1_000,
            webhook_retry_max_secs: 600,
            webhook_give_up_hours: 24,
            webhook_timeout_secs: 10,
            flags: shared::flags::FlagThresholds::default(),
        }
    }
}

/// Which storage backend a configuration selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid configuration file {0}: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("invalid value for {0}: {1}")]
    Env(&'static str, String),
}

impl Config {
    /// Load from `file` if given (or `./qingliu.toml` if present), then apply the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let default_file = Path::new("qingliu.toml");
        let path = file.or_else(|| default_file.exists().then_some(default_file));
        let mut cfg = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.into(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(p.into(), e))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(key: &'static str, v: String) -> Result<T, ConfigError> {
            v.parse().map_err(|_| ConfigError::Env(key, v))
        }
        if let Some(v) = get("QINGLIU_LISTEN") {
            self.listen = parse("QINGLIU_LISTEN", v)?;
        }
        if let Some(v) = get("QINGLIU_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("QINGLIU_DATABASE_URL") {
            self.database_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("QINGLIU_DATABASE_POOL_SIZE") {
            self.database_pool_size = parse("QINGLIU_DATABASE_POOL_SIZE", v)?;
        }
        if let Some(v) = get("QINGLIU_BLOB_STORE_URL") {
            self.blob_store_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("QINGLIU_TOKEN_TTL_HOURS") {
            self.token_ttl_hours = parse("QINGLIU_TOKEN_TTL_HOURS", v)?;
        }
        if let Some(v) = get("QINGLIU_MAX_BLOB_BYTES") {
            self.max_blob_bytes = parse("QINGLIU_MAX_BLOB_BYTES", v)?;
        }
        if let Some(v) = get("QINGLIU_MAX_CHUNK_BYTES") {
            self.max_chunk_bytes = parse("QINGLIU_MAX_CHUNK_BYTES", v)?;
        }
        if let Some(v) = get("QINGLIU_CONSOLE_DIR") {
            self.console_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = get("QINGLIU_MAP_TILE_URL") {
            self.map_tile_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("QINGLIU_PUBLIC_URL") {
            self.public_url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = get("QINGLIU_METRICS") {
            self.metrics = parse("QINGLIU_METRICS", v)?;
        }
        if let Some(v) = get("QINGLIU_MAP_TILE_GCJ02") {
            self.map_tile_gcj02 = parse("QINGLIU_MAP_TILE_GCJ02", v)?;
        }
        Ok(())
    }

    /// The backend `database_url` names.
    pub fn database(&self) -> Result<Database, ConfigError> {
        match self.database_url.as_deref().map(str::trim) {
            None | Some("") | Some("sqlite:") => Ok(Database::Sqlite(self.db_path())),
            Some(u) if u.starts_with("sqlite:") => Ok(Database::Sqlite(PathBuf::from(&u["sqlite:".len()..]))),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Ok(Database::Postgres(u.to_string()))
            }
            Some(_) => Err(ConfigError::Env(
                "database_url",
                "expected sqlite:PATH or postgres://… (the value is not repeated: it may hold a password)"
                    .into(),
            )),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("qingliu.db")
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_rejects_garbage() {
        let mut c = Config::default();
        c.apply_env(|k| (k == "QINGLIU_LISTEN").then(|| "127.0.0.1:9999".to_string())).unwrap();
        assert_eq!(c.listen.port(), 9999);
        let err = c.apply_env(|k| (k == "QINGLIU_TOKEN_TTL_HOURS").then(|| "soon".to_string()));
        assert!(matches!(err, Err(ConfigError::Env("QINGLIU_TOKEN_TTL_HOURS", _))));
    }

    #[test]
    fn file_rejects_unknown_keys() {
        assert!(toml::from_str::<Config>("listen = \"127.0.0.1:1\"\nbogus = 1").is_err());
        let c: Config = toml::from_str("token_ttl_hours = 2").unwrap();
        assert_eq!(c.token_ttl_hours, 2);
    }

    #[test]
    fn flag_thresholds_are_optional_one_by_one_and_checks_stay_on() {
        let c: Config = toml::from_str("[flags]\nmax_speed_kmh = 120.0").unwrap();
        assert_eq!(c.flags.max_speed_kmh, 120.0);
        assert_eq!(c.flags.max_clock_skew_minutes, 10);
        assert!(c.flags.cross_record_checks, "setting one threshold keeps the cross-record checks on");
        let off: Config = toml::from_str("[flags]\ncross_record_checks = false").unwrap();
        assert!(!off.flags.cross_record_checks);
    }
}
