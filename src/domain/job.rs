//! A job posting as the pipeline reads it, parsed from a `level-2` job document.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::JobId;

/// The input fields of a `level-2` job document that the pipeline reads (COMPAT.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPosting {
    /// `_id` as a 24-hex string.
    pub id: JobId,
    /// The dashboard's own `jobId` field, when present.
    pub external_job_id: Option<String>,
    /// Role title.
    pub title: String,
    /// Employer name.
    pub company: String,
    /// Full posting text.
    pub job_description: String,
    /// Where the posting was found.
    pub job_url: Option<String>,
    /// Board or feed the posting came from.
    pub source: Option<String>,
    /// Raw scraped posting text, preferred over `job_description` when longer.
    pub scraped_job_posting: Option<String>,
}

impl JobPosting {
    /// Parses a job document (`_id` as a 24-hex string or `{"$oid": "..."}`; when `_id` is
    /// absent and `derive_missing_id` is set, a stable id is derived from the content).
    pub fn from_document(doc: &Map<String, Value>, derive_missing_id: bool) -> Result<Self, String> {
        let id = match doc.get("_id") {
            Some(Value::String(s)) => JobId::parse(s)?,
            Some(Value::Object(o)) => match o.get("$oid") {
                Some(Value::String(s)) => JobId::parse(s)?,
                _ => return Err("_id object must be {\"$oid\": \"<24 hex>\"}".into()),
            },
            Some(other) => return Err(format!("_id must be a string or {{\"$oid\": ...}}, got {other}")),
            None if derive_missing_id => JobId::derive_from(&serde_json::to_string(doc).unwrap_or_default()),
            None => return Err("job document has no _id".into()),
        };
        let text = |key: &str| -> Option<String> {
            match doc.get(key) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            }
        };
        let title = text("title").ok_or_else(|| format!("job {id}: field \"title\" is missing or empty"))?;
        let company = text("company").ok_or_else(|| format!("job {id}: field \"company\" is missing or empty"))?;
        let job_description = text("job_description")
            .or_else(|| text("description"))
            .ok_or_else(|| format!("job {id}: field \"job_description\" is missing or empty"))?;
        Ok(Self {
            id,
            external_job_id: text("jobId"),
            title,
            company,
            job_description,
            job_url: text("job_url").or_else(|| text("url")),
            source: text("source"),
            scraped_job_posting: text("scraped_job_posting"),
        })
    }

    /// The posting's text as the pipeline reads it: the longer of the description and the
    /// scraped posting, as plain text (HTML markup removed, entities decoded).
    pub fn full_text(&self) -> std::borrow::Cow<'_, str> {
        let raw = match &self.scraped_job_posting {
            Some(s) if s.len() > self.job_description.len() => s,
            _ => &self.job_description,
        };
        super::markup::plain_text(raw)
    }

    /// The title and the posting's text: what any output may quote or name. Every gate and
    /// model-answer check reads this, so a title's "Band 5" or "(Go)" counts as the posting's.
    pub fn title_and_text(&self) -> String {
        format!("{}\n{}", self.title, self.full_text())
    }

    /// The document form stored by the embedded store and accepted by `import`.
    pub fn to_document(&self) -> Map<String, Value> {
        let mut doc = Map::new();
        doc.insert("_id".into(), Value::String(self.id.to_string()));
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                doc.insert(k.into(), Value::String(v.clone()));
            }
        };
        put("jobId", &self.external_job_id);
        put("title", &Some(self.title.clone()));
        put("company", &Some(self.company.clone()));
        put("job_description", &Some(self.job_description.clone()));
        put("job_url", &self.job_url);
        put("source", &self.source);
        put("scraped_job_posting", &self.scraped_job_posting);
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parses_oid_and_plain_ids() {
        let a = JobPosting::from_document(
            &doc(json!({"_id": {"$oid": "65a1b2c3d4e5f60718293a4b"}, "title": "T", "company": "C", "job_description": "D"})),
            false,
        )
        .unwrap();
        let b = JobPosting::from_document(
            &doc(json!({"_id": "65a1b2c3d4e5f60718293a4b", "title": "T", "company": "C", "job_description": "D"})),
            false,
        )
        .unwrap();
        assert_eq!(a.id, b.id);
    }

    #[test]
    fn missing_fields_are_named() {
        let err = JobPosting::from_document(
            &doc(json!({"_id": "65a1b2c3d4e5f60718293a4b", "title": "T", "company": " "})),
            false,
        )
        .unwrap_err();
        assert!(err.contains("company"), "{err}");
    }

    #[test]
    fn missing_id_is_derived_only_when_allowed() {
        let d = doc(json!({"title": "T", "company": "C", "job_description": "D"}));
        assert!(JobPosting::from_document(&d, false).is_err());
        assert!(JobPosting::from_document(&d, true).is_ok());
    }
}
