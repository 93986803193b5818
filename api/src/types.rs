//! The response shapes read field by field. Every field but the one that names the object
//! has a default, unknown fields are ignored, ids may be numbers or strings: self-hosted
//! versions differ from sentry.io in exactly these ways.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Organization {
    #[serde(deserialize_with = "id")]
    pub id: String,
    pub slug: String,
    #[serde(deserialize_with = "text")]
    pub name: String,
    pub links: Links,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Links {
    #[serde(deserialize_with = "opt_text")]
    pub region_url: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub organization_url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Project {
    #[serde(deserialize_with = "id")]
    pub id: String,
    pub slug: String,
    #[serde(deserialize_with = "text")]
    pub name: String,
    #[serde(deserialize_with = "opt_text")]
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Team {
    #[serde(deserialize_with = "id")]
    pub id: String,
    pub slug: String,
    #[serde(deserialize_with = "text")]
    pub name: String,
}

/// `GET /organizations/{org}/shortids/{short_id}/`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ShortIdLookup {
    #[serde(deserialize_with = "opt_text")]
    pub organization_slug: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub project_slug: Option<String>,
    #[serde(deserialize_with = "id")]
    pub group_id: String,
    /// The issue itself, as `GET .../issues/{id}/` returns it.
    pub group: Value,
}

/// `GET /organizations/{org}/eventids/{event_id}/`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventLookup {
    #[serde(deserialize_with = "opt_text")]
    pub organization_slug: Option<String>,
    #[serde(deserialize_with = "opt_text")]
    pub project_slug: Option<String>,
    #[serde(deserialize_with = "id")]
    pub group_id: String,
    pub event: Value,
}

/// The `id` of a REST object (issue, event) as a string, whether sent as number or string.
pub fn object_id(v: &Value) -> Option<String> {
    match v.get("id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    })
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_text(d)?.unwrap_or_default())
}

fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_odd_fields_default() {
        let org: Organization = serde_json::from_str(r#"{"slug":"acme","id":7}"#).unwrap();
        assert_eq!((org.id.as_str(), org.links.region_url), ("7", None));
        let org: Organization = serde_json::from_str(
            r#"{"slug":"acme","name":null,"links":{"regionUrl":"https://de.sentry.io"},"extra":[1]}"#,
        )
        .unwrap();
        assert_eq!(
            org.links.region_url.as_deref(),
            Some("https://de.sentry.io")
        );
        let p: Project = serde_json::from_str(r#"{"slug":"api","platform":null}"#).unwrap();
        assert_eq!((p.slug.as_str(), p.platform), ("api", None));
        assert_eq!(
            object_id(&serde_json::json!({"id": 12})).as_deref(),
            Some("12")
        );
        assert_eq!(object_id(&serde_json::json!({"id": ""})), None);
    }
}
