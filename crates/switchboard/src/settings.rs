//! Configuration: defaults → TOML file → `SWITCHBOARD_…` environment → flags.

use clap::Args;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    /// Address to listen on.
    pub listen: String,
    /// Where the SQLite database lives (when no database_url is given).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// `text` or `json`.
    pub log_format: String,
    /// A tracing filter, e.g. `info` or `switchboard_server=debug,info`.
    pub log_level: String,
    /// NATS, for a cluster: nodes tell each other what they commit. None: a single node.
    pub nats_url: Option<String>,
    /// The subject prefix on NATS (nodes of one cluster share it).
    pub nats_prefix: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            log_format: "text".into(),
            log_level: "info".into(),
            nats_url: None,
            nats_prefix: "switchboard".into(),
        }
    }
}

/// Flags that override the other layers (only those given).
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct Overrides {
    /// A TOML configuration file.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Data folder for the SQLite database [default: ./data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://user@host/db.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, value_parser = ["text", "json"])]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    /// NATS URL for a cluster, e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
}

impl Settings {
    pub fn load(overrides: &Overrides) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &overrides.config {
            if !path.exists() {
                anyhow::bail!("the configuration file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        let settings: Settings = figment
            .merge(Env::prefixed("SWITCHBOARD_").ignore(&["config"]))
            .merge(Serialized::defaults(overrides))
            .extract()?;
        if !["text", "json"].contains(&settings.log_format.as_str()) {
            anyhow::bail!(
                "log_format must be text or json, not {:?}",
                settings.log_format
            );
        }
        Ok(settings)
    }

    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir)?;
        Ok(format!(
            "sqlite://{}",
            self.data_dir.join("switchboard.db").display()
        ))
    }

    pub fn init_logging(&self) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&self.log_level));
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        if self.log_format == "json" {
            builder.json().init();
        } else {
            builder.init();
        }
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_defaults_file_environment_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "sb.toml",
                r#"
                listen = "0.0.0.0:9000"
                log_format = "json"
                data_dir = "from-file"
                "#,
            )?;
            jail.set_env("SWITCHBOARD_DATA_DIR", "from-env");
            jail.set_env("SWITCHBOARD_NATS_URL", "nats://10.0.0.1:4222");
            let flags = Overrides {
                config: Some("sb.toml".into()),
                listen: Some("127.0.0.1:7000".into()),
                ..Overrides::default()
            };
            let s = Settings::load(&flags).map_err(|e| e.to_string())?;
            assert_eq!(s.listen, "127.0.0.1:7000"); // flag over file
            assert_eq!(s.data_dir, PathBuf::from("from-env")); // environment over file
            assert_eq!(s.log_format, "json"); // file over default
            assert_eq!(s.log_level, "info"); // default
            assert_eq!(s.nats_url.as_deref(), Some("nats://10.0.0.1:4222"));
            assert_eq!(
                s.database_url().map_err(|e| e.to_string())?,
                format!(
                    "sqlite://{}",
                    PathBuf::from("from-env").join("switchboard.db").display()
                )
            );
            Ok(())
        });
    }

    #[test]
    fn bad_settings_are_refused_clearly() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD_LOG_FORMAT", "xml");
            let err = Settings::load(&Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains("log_format"), "{err}");
            let missing = Overrides {
                config: Some("nope.toml".into()),
                ..Overrides::default()
            };
            let err = Settings::load(&missing).unwrap_err().to_string();
            assert!(err.contains("does not exist"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn passwords_are_kept_out_of_messages() {
        assert_eq!(
            redact("postgres://sb:secret@db.internal:5432/sb"),
            "postgres://…@db.internal:5432/sb"
        );
        assert_eq!(redact("sqlite://data/sb.db"), "sqlite://data/sb.db");
    }
}
