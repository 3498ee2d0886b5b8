//! Deterministic, no-network implementations of the analysis stages. Each is a pure
//! function of the posting, the master CV and earlier outputs, so it is tested directly and
//! gives the same package for the same input. Everything they say is taken from the posting
//! or the master CV; where those are silent, the output says so instead of inventing.

pub mod contacts;
pub mod cover_letter;
pub mod cv;
pub mod fit_score;
pub mod pain_points;
pub mod research;

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::domain::JobPosting;
    use crate::pipeline::master_cv::MasterCv;

    pub fn job() -> JobPosting {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../examples/postings/backend-engineer.json")).unwrap();
        JobPosting::from_document(doc.as_object().unwrap(), false).unwrap()
    }

    pub fn cv() -> MasterCv {
        MasterCv::parse(include_str!("../../examples/master-cv.md")).unwrap()
    }
}
