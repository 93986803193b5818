//! How keys are typed: [`ParseOptions`].

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::query::keys::{self, ValueType};

/// How keys are typed and what the parser accepts. The key sets decide which filter kind a
/// `key:value` becomes: `timestamp:-24h` is a relative date because `timestamp` is a date
/// key, while `random:-24h` is plain text.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Anchors relative dates (`-24h`).
    pub now: DateTime<Utc>,
    /// Keys that take dates: `-24h`, `+7d`, `2024-01-31`, `>=2024-01-31T10:00:00`.
    pub date_keys: HashSet<String>,
    /// Keys that take numbers (`>10`, `5k`) and number lists (`[1, 2]`).
    pub numeric_keys: HashSet<String>,
    /// Keys that take `true`/`false`/`1`/`0`.
    pub boolean_keys: HashSet<String>,
    /// Keys that take durations (`>500ms`).
    pub duration_keys: HashSet<String>,
    /// Keys that take sizes (`>10kb`).
    pub size_keys: HashSet<String>,
    /// Aggregate arguments (or function names) that take percentages (`>50%`).
    pub percentage_keys: HashSet<String>,
    /// Text keys that accept comparison operators (`release.version:>1.2.3`).
    pub text_operator_keys: HashSet<String>,
    /// Key prefixes whose keys are numeric (Sentry: `measurements.`, `spans.`).
    pub numeric_prefixes: Vec<String>,
    /// Key prefixes whose keys are durations (Sentry: `spans.`).
    pub duration_prefixes: Vec<String>,
    /// Mark free text and values that contain `*` invalid (`wildcard-not-allowed`).
    pub disallow_wildcard: bool,
    /// Read `key://pattern//` as a regex match ([`crate::query::ast::Operator::Regex`]); otherwise it is the
    /// literal text `//pattern//`.
    pub allow_regex: bool,
    /// When set, filters on other keys are invalid (`invalid-key`), as Sentry's
    /// `validateKeys` + `supportedTags`.
    pub supported_keys: Option<HashSet<String>>,
    /// Replacement reasons by invalid type (e.g. `wildcard-not-allowed`), as Sentry's
    /// `invalidMessages`.
    pub invalid_messages: HashMap<String, String>,
}

fn set(keys: &[&str]) -> HashSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

impl ParseOptions {
    /// Sentry's default event-search config (what the fixtures assume), with "now" injected.
    pub fn sentry_defaults(now: DateTime<Utc>) -> Self {
        ParseOptions {
            now,
            date_keys: set(&[
                "start",
                "end",
                "firstSeen",
                "lastSeen",
                "last_seen()",
                "time",
                "event.timestamp",
                "timestamp",
                "timestamp.to_hour",
                "timestamp.to_day",
            ]),
            numeric_keys: set(&[
                "project_id",
                "project.id",
                "issue.id",
                "stack.colno",
                "stack.lineno",
                "stack.stack_level",
                "transaction.duration",
            ]),
            boolean_keys: set(&[
                "error.handled",
                "error.unhandled",
                "stack.in_app",
                "team_key_transaction",
            ]),
            // Plus the measurements Sentry types as durations.
            duration_keys: set(&[
                "transaction.duration",
                "measurements.fp",
                "measurements.fcp",
                "measurements.lcp",
                "measurements.fid",
                "measurements.inp",
                "measurements.ttfb",
                "measurements.ttfb.requesttime",
                "measurements.app_start_cold",
                "measurements.app_start_warm",
                "measurements.time_to_initial_display",
                "measurements.time_to_full_display",
                "measurements.stall_total_time",
                "measurements.stall_longest_time",
            ]),
            size_keys: HashSet::new(),
            percentage_keys: set(&["percentage"]),
            text_operator_keys: set(&[
                "release.version",
                "release.build",
                "release.package",
                "release.stage",
            ]),
            numeric_prefixes: vec!["measurements.".into(), "spans.".into()],
            duration_prefixes: vec!["spans.".into()],
            disallow_wildcard: false,
            allow_regex: false,
            supported_keys: None,
            invalid_messages: HashMap::new(),
        }
    }

    /// The keys our local index knows (used by the planner): [`Self::sentry_defaults`], with
    /// every key of [`keys::KEYS`] typed as the table says (`first_seen` is a date key like
    /// `firstSeen`; `issue.id` is an id, not a number).
    pub fn for_index(now: DateTime<Utc>) -> Self {
        let mut options = Self::sentry_defaults(now);
        for def in keys::KEYS {
            for name in def.spellings() {
                for set in [
                    &mut options.date_keys,
                    &mut options.numeric_keys,
                    &mut options.boolean_keys,
                    &mut options.duration_keys,
                    &mut options.size_keys,
                    &mut options.text_operator_keys,
                ] {
                    set.remove(name);
                }
                let typed = match def.ty {
                    ValueType::Date => &mut options.date_keys,
                    ValueType::Number => &mut options.numeric_keys,
                    ValueType::Boolean => &mut options.boolean_keys,
                    ValueType::Version => &mut options.text_operator_keys,
                    ValueType::Text | ValueType::Prose => continue,
                };
                typed.insert(name.to_owned());
            }
        }
        options
    }

    pub fn is_date(&self, key: &str) -> bool {
        self.date_keys.contains(key)
    }

    pub fn is_numeric(&self, key: &str) -> bool {
        self.numeric_keys.contains(key)
            || self
                .numeric_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    pub fn is_boolean(&self, key: &str) -> bool {
        self.boolean_keys.contains(key)
    }

    pub fn is_duration(&self, key: &str) -> bool {
        self.duration_keys.contains(key)
            || self
                .duration_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    pub fn is_size(&self, key: &str) -> bool {
        self.size_keys.contains(key)
    }

    pub fn is_percentage(&self, key: &str) -> bool {
        self.percentage_keys.contains(key)
    }
}
