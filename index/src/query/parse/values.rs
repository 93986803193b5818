//! Typed values: dates, relative dates, durations, sizes, numbers, percentages, booleans.

use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use pest::iterators::Pair;

use super::{Ctx, Rule};
use crate::query::QueryError;
use crate::query::ast::{NumberValue, Value};

impl<'a> Ctx<'a> {
    // ----- typed values (pairs parsed from a value substring; `at` is its byte offset in
    // the query) ---------------------------------------------------------------------

    pub(super) fn iso_date(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw = pair.as_str();
        let bad = || {
            QueryError::new(
                self.pos(at),
                format!(
                    "bad date \"{raw}\": expected a real date and time like 2024-01-31 or 2024-01-31T13:45:00Z"
                ),
            )
        };
        let (mut date, mut time, mut tz) = ("", None, None);
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::date_part => date = part.as_str(),
                Rule::time_part => time = Some(part.as_str()),
                Rule::tz_part => tz = Some(part.as_str()),
                _ => {}
            }
        }
        let digits = |s: &str| s.parse::<u32>().map_err(|_| bad());
        let day = NaiveDate::from_ymd_opt(
            date.get(0..4)
                .map(|y| y.parse::<i32>().unwrap_or(-1))
                .unwrap_or(-1),
            digits(date.get(5..7).unwrap_or(""))?,
            digits(date.get(8..10).unwrap_or(""))?,
        )
        .ok_or_else(bad)?;
        let clock = match time {
            None => NaiveTime::MIN,
            Some(t) => {
                // `T05:06:07.123`: the fraction after the dot, as nanoseconds.
                let nanos = match t.get(10..) {
                    Some(frac) if !frac.is_empty() => {
                        let padded = format!("{frac:0<9}");
                        padded
                            .get(0..9)
                            .unwrap_or("0")
                            .parse::<u32>()
                            .map_err(|_| bad())?
                    }
                    _ => 0,
                };
                NaiveTime::from_hms_nano_opt(
                    digits(t.get(1..3).unwrap_or(""))?,
                    digits(t.get(4..6).unwrap_or(""))?,
                    digits(t.get(7..9).unwrap_or(""))?,
                    nanos,
                )
                .ok_or_else(bad)?
            }
        };
        let naive = day.and_time(clock);
        let offset_secs = match tz {
            None | Some("Z") => 0,
            Some(z) => {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let hours = digits(z.get(1..3).unwrap_or(""))? as i32;
                let minutes = digits(z.get(4..6).unwrap_or(""))? as i32;
                if hours > 23 || minutes > 59 {
                    return Err(bad());
                }
                sign * (hours * 3600 + minutes * 60)
            }
        };
        let offset = FixedOffset::east_opt(offset_secs).ok_or_else(bad)?;
        let value = offset
            .from_local_datetime(&naive)
            .single()
            .ok_or_else(bad)?
            .with_timezone(&Utc);
        Ok(Value::IsoDate {
            raw: raw.to_string(),
            value,
            has_time: time.is_some(),
        })
    }

    pub(super) fn rel_date(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw = pair.as_str();
        let too_far = || {
            QueryError::new(
                self.pos(at),
                format!(
                    "bad relative date \"{raw}\": expected an amount that stays within a few thousand years of now"
                ),
            )
        };
        let (mut sign, mut amount, mut unit) = ('-', "", 'd');
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::rel_sign => sign = part.as_str().chars().next().unwrap_or('-'),
                Rule::rel_amount => amount = part.as_str(),
                Rule::rel_unit => unit = part.as_str().chars().next().unwrap_or('d'),
                _ => {}
            }
        }
        let amount: i64 = amount.parse().map_err(|_| too_far())?;
        let delta = match unit {
            'w' => TimeDelta::try_weeks(amount),
            'd' => TimeDelta::try_days(amount),
            'h' => TimeDelta::try_hours(amount),
            _ => TimeDelta::try_minutes(amount),
        }
        .ok_or_else(too_far)?;
        // The cutoff for both signs: `-7d` is "since then", `+7d` is "before then".
        let value = self.now.checked_sub_signed(delta).ok_or_else(too_far)?;
        Ok(Value::RelativeDate {
            raw: raw.to_string(),
            sign,
            amount,
            unit,
            value,
        })
    }

    fn finite(&self, value: f64, raw: &str, at: usize) -> Result<f64, QueryError> {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(QueryError::new(
                self.pos(at),
                format!("number \"{raw}\" is too large: expected at most about 1e300"),
            ))
        }
    }

    fn numeric_and_unit(pair: Pair<'a, Rule>) -> (&'a str, &'a str) {
        let (mut numeric, mut unit) = ("", "");
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::numeric => numeric = part.as_str(),
                Rule::duration_unit | Rule::size_unit => unit = part.as_str(),
                _ => {}
            }
        }
        (numeric, unit)
    }

    pub(super) fn duration(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let (numeric, unit) = Self::numeric_and_unit(pair);
        let n: f64 = numeric.parse().unwrap_or(f64::NAN);
        let factor = match unit {
            "ms" => 1.0,
            "s" => 1e3,
            "min" | "m" => 60e3,
            "hr" | "h" => 3_600e3,
            "day" | "d" => 86_400e3,
            _ => 604_800e3,
        };
        Ok(Value::Duration {
            raw: numeric.to_string(),
            unit: unit.to_string(),
            millis: self.finite(n * factor, raw_all, at)?,
        })
    }

    pub(super) fn size(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let (numeric, unit) = Self::numeric_and_unit(pair);
        let n: f64 = numeric.parse().unwrap_or(f64::NAN);
        let lower = unit.to_ascii_lowercase();
        let factor = match lower.as_str() {
            "bit" => 1.0 / 8.0,
            "nb" => 0.5,
            "bytes" => 1.0,
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "tb" => 1e12,
            "pb" => 1e15,
            "eb" => 1e18,
            "zb" => 1e21,
            "yb" => 1e24,
            "kib" => 1024f64,
            "mib" => 1024f64.powi(2),
            "gib" => 1024f64.powi(3),
            "tib" => 1024f64.powi(4),
            "pib" => 1024f64.powi(5),
            "eib" => 1024f64.powi(6),
            "zib" => 1024f64.powi(7),
            _ => 1024f64.powi(8),
        };
        Ok(Value::Size {
            raw: numeric.to_string(),
            unit: unit.to_string(),
            bytes: self.finite(n * factor, raw_all, at)?,
        })
    }

    pub(super) fn number(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let mut unit = None;
        let mut raw = raw_all;
        for part in pair.into_inner() {
            if part.as_rule() == Rule::number_unit {
                unit = Some(part.as_str().to_string());
                raw = raw_all
                    .get(..raw_all.len().saturating_sub(part.as_str().len()))
                    .unwrap_or(raw_all);
            }
        }
        let factor = match unit.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("k") => 1e3,
            Some("m") => 1e6,
            Some("b") => 1e9,
            _ => 1.0,
        };
        let n: f64 = raw.parse().unwrap_or(f64::NAN);
        Ok(Value::Number(NumberValue {
            raw: raw.to_string(),
            unit,
            value: self.finite(n * factor, raw_all, at)?,
        }))
    }

    pub(super) fn percentage(&self, pair: Pair<'a, Rule>, at: usize) -> Result<Value, QueryError> {
        let raw_all = pair.as_str();
        let numeric = raw_all.trim_end_matches('%');
        let n: f64 = numeric.parse().unwrap_or(f64::NAN);
        Ok(Value::Percentage {
            raw: numeric.to_string(),
            value: self.finite(n / 100.0, raw_all, at)?,
        })
    }

    pub(super) fn boolean(&self, pair: Pair<'a, Rule>, _at: usize) -> Result<Value, QueryError> {
        let raw = pair.as_str();
        Ok(Value::Boolean {
            raw: raw.to_string(),
            value: raw == "1" || raw.eq_ignore_ascii_case("true"),
        })
    }
}
