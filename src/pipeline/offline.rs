//! Deterministic, no-network implementations of the analysis stages. Each is a pure
//! function of the posting, the master CV and earlier outputs, so it is tested directly and
//! gives the same package for the same input. Everything they say is taken from the posting
//! or the master CV; where those are silent, the output says so instead of inventing.

pub mod contacts;
pub mod cover_letter;
pub mod cv;
pub mod cv_review;
pub mod extract;
#[cfg(test)]
mod fit_calibration;
pub mod fit_score;
pub mod pain_points;
pub mod prose;
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

/// The offline pipeline over every example posting and a set of varied fixtures (other
/// professions, job-board noise, HTML, capitals, numbered lists, prose without headings):
/// every output passes its gate, and the letter and outreach never splice a posting's
/// instruction into a slot that needs a noun, nor state a number the CV contradicts.
#[cfg(test)]
mod prose_over_fixtures {
    use crate::domain::JobPosting;
    use crate::pipeline::gates;
    use crate::pipeline::offline::{
        cover_letter, cv, cv_review, extract, fit_score, fixtures, pain_points, prose, research,
    };
    use crate::pipeline::text;

    fn postings() -> Vec<(String, JobPosting)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in [
            "examples/postings",
            "tests/fixtures/postings",
            "tests/fixtures/fit/postings",
        ] {
            let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("all.json"))
                .collect();
            files.sort();
            for f in files {
                let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
                let job = JobPosting::from_document(doc.as_object().unwrap(), false).unwrap();
                out.push((f.file_name().unwrap().to_string_lossy().into_owned(), job));
            }
        }
        out
    }

    /// "N years" phrases a text states.
    fn year_claims(t: &str) -> Vec<String> {
        let words: Vec<&str> = t.split_whitespace().collect();
        (1..words.len())
            .filter(|&i| {
                words[i]
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .eq_ignore_ascii_case("years")
            })
            .map(|i| format!("{} years", words[i - 1].trim_start_matches(['"', '“', '('])))
            .collect()
    }

    /// The example CV and the calibration set's nurse and marketer CVs.
    fn cvs() -> Vec<(String, crate::pipeline::master_cv::MasterCv)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        [
            "examples/master-cv.md",
            "tests/fixtures/fit/cvs/registered-nurse.md",
            "tests/fixtures/fit/cvs/growth-marketer.md",
        ]
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(root.join(p)).unwrap();
            (
                p.to_owned(),
                crate::pipeline::master_cv::MasterCv::parse(&text).unwrap(),
            )
        })
        .collect()
    }

    #[test]
    fn letters_and_outreach_read_well_on_every_posting() {
        assert_eq!(fixtures::cv(), cvs()[0].1, "the example CV comes first");
        let all = postings();
        assert!(
            all.len() >= 21,
            "3 examples and at least 18 fixtures, got {}",
            all.len()
        );
        for ((posting_name, job), (cv_name, master)) in
            all.iter().flat_map(|p| cvs().into_iter().map(move |c| (p.clone(), c)))
        {
            let name = format!("{posting_name} × {cv_name}");
            let stated = prose::stated_experience(&master).unwrap_or_default();
            let posting = &job.full_text();
            let pains = pain_points::mine(&job);
            gates::check_pain_points(&pains).unwrap_or_else(|e| panic!("{name}: {e}"));
            let research = research::research(&job);
            let fit = fit_score::score(&job, &master, 2026);
            gates::check_fit(&fit).unwrap_or_else(|e| panic!("{name}: {e}\n{}", fit.fit_rationale));
            assert!(
                gates::quote_problems("fit_rationale", &fit.fit_rationale, posting, &master).is_empty(),
                "{name}: {}",
                fit.fit_rationale
            );
            let tailored = cv::tailor(&master, &pains, &fit);
            gates::check_cv(&tailored, &master).unwrap_or_else(|e| panic!("{name}: {e}"));
            let jd = extract::extract(&job);
            gates::check_extract(&jd, &job.title_and_text()).unwrap_or_else(|e| panic!("{name}: {e}\n{jd:#?}"));
            assert_ne!(jd.role_category, "other", "{name}: {jd:#?}");
            assert!(
                !jd.qualifications.is_empty() && !jd.responsibilities.is_empty(),
                "{name}: {jd:#?}"
            );
            let review = cv_review::review(
                &cv_review::ReviewInput {
                    cv: &tailored,
                    master: &master,
                    jd: &jd,
                    pains: Some(&pains),
                },
                "2026-12-02T00:00:00Z",
            );
            gates::check_cv_review(&review, &master, posting, &tailored.cv_text)
                .unwrap_or_else(|e| panic!("{name}: {e}\n{review:#?}"));
            let letter = cover_letter::write(&job, &master, &pains, &research, &fit);
            gates::check_cover_letter(&letter, &job.company, &job.title_and_text(), &master)
                .unwrap_or_else(|e| panic!("{name}: {e}\n{}", letter.cover_letter));

            // Every item of the posting, as the writers could have used it.
            let sections = text::sections(posting);
            let items: Vec<String> = sections
                .iter()
                .flat_map(|s| s.items.iter().cloned())
                .chain(pains.pain_points.iter().cloned())
                .collect();
            let contacts = research.primary_contacts.iter().chain(&research.secondary_contacts);
            let mut texts = vec![("cover letter".to_owned(), letter.cover_letter.clone())];
            for c in contacts {
                texts.push((format!("LinkedIn note to {}", c.role), c.linkedin_message.clone()));
                texts.push((format!("e-mail to {}", c.role), c.email_body.clone()));
            }
            for (i, r) in pains.risks_if_unfilled.iter().chain(&pains.strategic_needs).enumerate() {
                texts.push((format!("pain-point item {i}"), r.clone()));
            }
            for (what, t) in texts {
                assert!(
                    !t.contains("  ") && !t.contains(" ."),
                    "{name}: {what} has stray spaces:\n{t}"
                );
                assert!(
                    !t.contains("<li") && !t.contains("&amp;") && !t.contains('✅') && !t.contains("#LI"),
                    "{name}: {what} carries job-board markup:\n{t}"
                );
                let spliced = prose::spliced_instructions(&t, &items);
                assert!(
                    spliced.is_empty(),
                    "{name}: {what} splices {spliced:?} into a sentence:\n{t}"
                );
                for claim in year_claims(&t) {
                    assert!(
                        stated.contains(&claim)
                            || fixtures_text_contains(posting, &claim)
                            || fixtures_text_contains(&master.text, &claim),
                        "{name}: {what} says {claim:?}, the CV says {stated:?}:\n{t}"
                    );
                }
            }
        }
    }

    fn fixtures_text_contains(posting: &str, claim: &str) -> bool {
        posting.to_lowercase().contains(&claim.to_lowercase())
    }
}
