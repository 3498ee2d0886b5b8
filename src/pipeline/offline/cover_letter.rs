//! A cover letter assembled from the posting and the master CV's strongest evidence. It is
//! built to pass the COMPAT.md gate: 4 paragraphs, 220–380 words, names the company, cites
//! a metric taken verbatim from the master CV, and uses no stock phrases.

use crate::domain::outputs::{CoverLetterOutput, FitOutput, PainPointsOutput, ResearchOutput};
use crate::domain::JobPosting;
use crate::pipeline::master_cv::{split_role, MasterCv};
use crate::pipeline::offline::cv::{relevance, target_terms};
use crate::pipeline::offline::prose;
use crate::pipeline::text;

/// Writes the letter.
pub fn write(
    job: &JobPosting,
    cv: &MasterCv,
    pains: &PainPointsOutput,
    research: &ResearchOutput,
    fit: &FitOutput,
) -> CoverLetterOutput {
    let posting = &job.full_text();
    let terms = target_terms(pains, Some(fit));
    let mut achievements = cv.achievements();
    achievements.sort_by_key(|a| std::cmp::Reverse(relevance(&a.text, &terms) + if a.has_metric { 3 } else { 0 }));
    let with_metric: Vec<_> = achievements.iter().filter(|a| a.has_metric).collect();
    let others: Vec<_> = achievements.iter().filter(|a| !a.has_metric).collect();
    let evidence: Vec<_> = with_metric.iter().chain(others.iter()).take(4).copied().collect();

    let (latest_title, latest_employer) = cv.roles().first().map(|r| split_role(r)).unwrap_or_default();
    // A posting's items are instructions ("Design and operate ..."): they are quoted, and
    // only when they are the posting's own words, never spliced into a sentence.
    let instructions: Vec<String> = pains.pain_points.iter().filter_map(|p| prose::instruction(p)).collect();
    let quoted_pain = |i: usize| instructions.get(i).and_then(|p| prose::quoted(posting, p, 90));

    let mut p1 = format!("I am applying for the {} role at {}. ", job.title, job.company);
    match quoted_pain(0) {
        Some(q) => p1.push_str(&format!("Your posting puts one need first: {q}. ")),
        None => p1.push_str(&format!(
            "I read the posting with the work of a {} in mind. ",
            job.title
        )),
    }
    // Closeness is claimed only when the fit score supports it.
    let close = fit.fit_score >= 60;
    if !latest_title.is_empty() {
        let at = if latest_employer.is_empty() {
            String::new()
        } else {
            format!(" at {latest_employer}")
        };
        p1.push_str(&if close {
            format!("That is close to what I do today as {latest_title}{at}")
        } else {
            format!("My path so far has been different: today I work as {latest_title}{at}")
        });
        // In the CV's own words: a figure computed from dates could contradict it.
        if let Some(experience) = prose::stated_experience(cv) {
            p1.push_str(&format!(", with {experience} behind me"));
        }
        p1.push_str(". ");
    }
    p1.push_str(if close {
        "Below is the evidence from my CV that bears on it, and how I would start."
    } else {
        "Below is what my CV shows, where it carries over and where it does not, and how I would start."
    });

    let mut p2 = String::new();
    for (i, a) in evidence.iter().take(2).enumerate() {
        let (_, employer) = split_role(&a.role);
        let clause = prose::first_person(&a.text);
        let sentence = match (i, employer.is_empty()) {
            (0, false) => format!("At {employer}, {clause}. "),
            (_, false) => format!("Also at {employer}, {clause}. "),
            (_, true) => format!("{}. ", text::upper_first(&clause)),
        };
        p2.push_str(&sentence);
    }
    let (both, bear) = if evidence.len() >= 2 {
        ("Both", "bear")
    } else {
        ("It", "bears")
    };
    // "Bears on" only when the results share the posting's terms.
    let related = evidence.iter().take(2).any(|a| relevance(&a.text, &terms) >= 2);
    match (related, quoted_pain(1)) {
        (true, Some(q)) => p2.push_str(&format!("{both} {bear} on another need your posting lists: {q}.")),
        (true, None) => p2.push_str(&format!(
            "{both} {bear} directly on what {} describes in the posting.",
            job.company
        )),
        (false, Some(q)) => p2.push_str(&format!(
            "These are my strongest results; how far they carry over to a need such as {q} is worth discussing openly."
        )),
        (false, None) => {
            p2.push_str("These are my strongest results; how far they carry over is worth discussing openly.")
        }
    }

    let mut p3 = String::new();
    let matched: Vec<String> = fit
        .matched_requirements
        .iter()
        .take(3)
        .filter_map(|r| prose::quoted(posting, r, 60))
        .collect();
    if !matched.is_empty() {
        p3.push_str(&format!(
            "Against your requirements, my CV shows evidence for {}. ",
            matched.join(", ")
        ));
    }
    if let Some(missing) = fit
        .missing_requirements
        .first()
        .and_then(|m| prose::quoted(posting, m, 60))
    {
        p3.push_str(&format!(
            "Where my CV is thinner, as on {missing}, I would say so plainly and close the gap early. "
        ));
    }
    // A list after a colon: instructions read as the plan's steps.
    let plan: Vec<String> = instructions
        .iter()
        .take(3)
        .map(|p| text::lower_first(&text::shorten_marked(p, 110)))
        .collect();
    if !plan.is_empty() {
        p3.push_str(&format!(
            "My first ninety days would follow the posting's own order: {}.",
            plan.join("; then ")
        ));
    }

    let mut p4 = match pains.strategic_needs.iter().find_map(|s| prose::quoted(posting, s, 90)) {
        Some(need) => format!(
            "I noted what your posting says about the bigger picture, {need}, and would welcome a conversation about how this role serves it at {}. ",
            job.company
        ),
        None => format!(
            "I would welcome a conversation about how I could help {} with the goals of this role. ",
            job.company
        ),
    };
    p4.push_str("I can share more detail on any of the work above, including what did not go to plan and what I learned from it. Thank you for considering my application.");

    // Pad with further evidence, then with plain closing sentences, until the letter
    // reaches the gate's minimum; trim optional sentences when a verbose CV overshoots.
    let name = cv.candidate_name();
    let mut paragraphs = [p1, p2, p3, p4];
    let impact = research.role_research.business_impact.first().map(|b| {
        format!(
            " I read the role's main impact as: {}.",
            text::lower_first(&text::shorten(b, 100))
        )
    });
    let mut padding: Vec<(usize, String)> = evidence
        .iter()
        .skip(2)
        .map(|a| {
            (
                2,
                format!(" {}.", text::upper_first(&also(&prose::first_person(&a.text)))),
            )
        })
        .collect();
    padding.extend(impact.map(|i| (1, i)));
    padding.push((
        3,
        format!(
            " I am ready to show this experience in a practical or technical interview at {}.",
            job.company
        ),
    ));
    padding.push((
        0,
        " I have read the posting closely and kept this letter to what my record can support.".to_owned(),
    ));
    padding.push((
        2,
        " I prefer to agree on clear goals early and report progress against them openly.".to_owned(),
    ));
    padding.push((3, " I can start the conversation whenever suits your team.".to_owned()));
    padding.push((
        1,
        " I would rather be asked about my record in detail than overstate it here.".to_owned(),
    ));
    padding.push((
        2,
        " I work best when goals are written down and the whole team can see how the work is going.".to_owned(),
    ));
    let mut padding = padding.into_iter();
    while text::word_count(&assemble(job, name, &paragraphs)) < 230 {
        match padding.next() {
            Some((i, sentence)) => paragraphs[i] = format!("{} {}", paragraphs[i].trim_end(), sentence.trim_start()),
            None => break,
        }
    }
    while text::word_count(&assemble(job, name, &paragraphs)) > 370 {
        let longest = (0..4).max_by_key(|i| text::word_count(&paragraphs[*i])).unwrap_or(2);
        let sentences = text::sentences(&paragraphs[longest]);
        if sentences.len() <= 2 {
            break;
        }
        paragraphs[longest] = sentences[..sentences.len() - 1].join(" ");
    }
    CoverLetterOutput {
        cover_letter: assemble(job, name, &paragraphs),
    }
}

fn assemble(job: &JobPosting, name: &str, paragraphs: &[String; 4]) -> String {
    format!(
        "Dear {} hiring team,\n\n{}\n\nSincerely,\n{}\n",
        job.company,
        paragraphs.iter().map(|p| p.trim()).collect::<Vec<_>>().join("\n\n"),
        name
    )
}

/// "I led …" → "I also led …"; "my CV records: …" → "my CV also records: …".
fn also(clause: &str) -> String {
    match clause.strip_prefix("I ") {
        Some(rest) => format!("I also {rest}"),
        None => clause.replacen("my CV records", "my CV also records", 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::gates;
    use crate::pipeline::offline::{fit_score, fixtures, pain_points, research};

    #[test]
    fn offline_letter_passes_the_gate() {
        let (job, cv) = (fixtures::job(), fixtures::cv());
        let pains = pain_points::mine(&job);
        let fit = fit_score::score(&job, &cv, 2026);
        let out = write(&job, &cv, &pains, &research::research(&job), &fit);
        gates::check_cover_letter(&out, &job.company, &job.full_text(), &cv)
            .unwrap_or_else(|e| panic!("{e}\n{}", out.cover_letter));
    }

    #[test]
    fn thin_cv_and_posting_still_meet_the_word_count() {
        let mut job = fixtures::job();
        job.job_description = "Build the billing system. Requirements: 3 years of Python.".into();
        let cv = MasterCv::parse("# Sam\n## Experience\n### Developer — Shop (2021–2024)\n- Cut checkout errors 25%\n")
            .unwrap();
        let pains = pain_points::mine(&job);
        let fit = fit_score::score(&job, &cv, 2026);
        let out = write(&job, &cv, &pains, &research::research(&job), &fit);
        gates::check_cover_letter(&out, &job.company, &job.full_text(), &cv)
            .unwrap_or_else(|e| panic!("{e}\n{}", out.cover_letter));
    }
}
