//! Profession families and seniority, read from a posting's title and text or a CV's role
//! headings. JD extraction reports them (`role_category`, `seniority_level`), and the
//! offline fit score checks them first: a nurse's CV is not a 45 % match for a backend
//! role because both mention "patients" and "systems"; a different profession caps the
//! score, with the reason said.

use crate::pipeline::lexicon;

/// A profession family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    SoftwareEngineering,
    EngineeringManagement,
    /// Civil, mechanical, electrical and other engineering outside software.
    OtherEngineering,
    DataScience,
    ProductManagement,
    Design,
    Nursing,
    Marketing,
    Sales,
    Finance,
    Teaching,
    Logistics,
    Hospitality,
    CustomerSupport,
    PeopleOps,
    Legal,
}

/// Title words of each family, most specific first (the first family whose word the
/// title contains wins, so "engineering manager" is management, not engineering).
const TITLES: &[(Family, &[&str])] = &[
    (
        Family::EngineeringManagement,
        &[
            "engineering manager",
            "manager, engineering",
            "manager of engineering",
            "head of engineering",
            "director of engineering",
            "engineering director",
            "vp engineering",
            "vp of engineering",
            "vice president of engineering",
            "cto",
            "chief technology officer",
            "software development manager",
            "engineering lead manager",
        ],
    ),
    (
        Family::OtherEngineering,
        &[
            "civil engineer",
            "structural engineer",
            "mechanical engineer",
            "electrical engineer",
            "chemical engineer",
            "process engineer",
            "manufacturing engineer",
            "site engineer",
            "building services",
            "geotechnical",
        ],
    ),
    (
        Family::ProductManagement,
        &[
            "product manager",
            "product owner",
            "head of product",
            "product lead",
            "director of product",
            "vp product",
            "group product manager",
            "product management",
        ],
    ),
    (
        Family::Design,
        &["designer", "ux ", "ux/ui", "ui/ux", "design lead", "head of design"],
    ),
    (
        Family::DataScience,
        &[
            "data scientist",
            "data analyst",
            "analytics engineer",
            "research scientist",
            "applied scientist",
            "statistician",
            "bi analyst",
            "business intelligence",
        ],
    ),
    (
        Family::Sales,
        &[
            "sales",
            "account executive",
            "business development",
            "sdr",
            "bdr",
            "account manager",
        ],
    ),
    (
        Family::Marketing,
        &[
            "marketing",
            "marketer",
            "seo",
            "content strategist",
            "brand manager",
            "social media",
            "copywriter",
            "growth manager",
        ],
    ),
    (
        Family::Nursing,
        &[
            "nurse",
            "nursing",
            "rn ",
            "midwife",
            "care assistant",
            "healthcare assistant",
            "clinical",
            "paramedic",
        ],
    ),
    (
        Family::Finance,
        &[
            "accountant",
            "accounting",
            "finance",
            "financial",
            "controller",
            "bookkeeper",
            "auditor",
            "payroll",
        ],
    ),
    (
        Family::Teaching,
        &["teacher", "lecturer", "tutor", "instructor", "teaching"],
    ),
    (
        Family::Logistics,
        &[
            "driver",
            "warehouse",
            "logistics",
            "forklift",
            "courier",
            "operative",
            "supply chain",
            "dispatcher",
        ],
    ),
    (
        Family::Hospitality,
        &[
            "chef",
            "cook",
            "barista",
            "waiter",
            "waitress",
            "bartender",
            "hotel",
            "housekeep",
            "kitchen",
        ],
    ),
    (
        Family::CustomerSupport,
        &[
            "customer support",
            "customer service",
            "support specialist",
            "support agent",
            "help desk",
            "helpdesk",
            "customer success",
        ],
    ),
    (
        Family::PeopleOps,
        &[
            "recruiter",
            "talent acquisition",
            "hr ",
            "human resources",
            "people partner",
            "people operations",
        ],
    ),
    (
        Family::Legal,
        &["lawyer", "solicitor", "paralegal", "counsel", "attorney", "legal"],
    ),
    (
        Family::SoftwareEngineering,
        &[
            "software",
            "engineer",
            "developer",
            "programmer",
            "sre",
            "site reliability",
            "devops",
            "platform",
            "backend",
            "back-end",
            "frontend",
            "front-end",
            "full stack",
            "full-stack",
            "architect",
            "swe",
            "machine learning",
            "ml ",
            "tech lead",
        ],
    ),
];

/// Concepts that point at a family when the title alone does not say.
const SIGNALS: &[(Family, &[&str])] = &[
    (
        Family::SoftwareEngineering,
        &[
            "Go",
            "Rust",
            "Python",
            "Java",
            "Kotlin",
            "TypeScript",
            "JavaScript",
            "Kubernetes",
            "distributed systems",
            "APIs",
            "PostgreSQL",
            "CI/CD",
            "system design",
            "data pipelines",
            "Docker",
            "AWS",
        ],
    ),
    (
        Family::EngineeringManagement,
        &["people management", "hiring", "mentoring"],
    ),
    (
        Family::DataScience,
        &["statistics", "experimentation", "machine learning", "analytics", "SQL"],
    ),
    (
        Family::ProductManagement,
        &[
            "product roadmaps",
            "product discovery",
            "go-to-market",
            "requirements writing",
        ],
    ),
    (Family::Design, &["Figma", "UX design", "design systems"]),
    (
        Family::Nursing,
        &[
            "patient care",
            "nursing",
            "medication administration",
            "clinical assessment",
            "electronic health records",
            "life support",
        ],
    ),
    (
        Family::Marketing,
        &[
            "SEO",
            "paid media",
            "content marketing",
            "brand",
            "campaigns",
            "social media",
            "marketing automation",
        ],
    ),
    (
        Family::Sales,
        &["sales quota", "prospecting", "account management", "CRM"],
    ),
    (Family::Finance, &["accounting", "financial modelling", "Excel"]),
    (Family::Teaching, &["teaching"]),
    (Family::Logistics, &["driving", "warehouse operations"]),
    (Family::Hospitality, &["food preparation"]),
    (Family::CustomerSupport, &["customer support"]),
    (Family::PeopleOps, &["talent acquisition"]),
    (Family::Legal, &["legal"]),
];

impl Family {
    /// Every family.
    pub const ALL: [Family; 16] = [
        Family::SoftwareEngineering,
        Family::EngineeringManagement,
        Family::OtherEngineering,
        Family::DataScience,
        Family::ProductManagement,
        Family::Design,
        Family::Nursing,
        Family::Marketing,
        Family::Sales,
        Family::Finance,
        Family::Teaching,
        Family::Logistics,
        Family::Hospitality,
        Family::CustomerSupport,
        Family::PeopleOps,
        Family::Legal,
    ];

    /// The family a stored name stands for.
    pub fn parse(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The stored name (`role_category`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::SoftwareEngineering => "software_engineering",
            Family::EngineeringManagement => "engineering_management",
            Family::OtherEngineering => "other_engineering",
            Family::DataScience => "data_science",
            Family::ProductManagement => "product_management",
            Family::Design => "design",
            Family::Nursing => "nursing",
            Family::Marketing => "marketing",
            Family::Sales => "sales",
            Family::Finance => "finance",
            Family::Teaching => "teaching",
            Family::Logistics => "logistics",
            Family::Hospitality => "hospitality",
            Family::CustomerSupport => "customer_support",
            Family::PeopleOps => "people_operations",
            Family::Legal => "legal",
        }
    }

    /// A reader's name for it.
    pub fn label(self) -> &'static str {
        match self {
            Family::SoftwareEngineering => "software engineering",
            Family::EngineeringManagement => "engineering management",
            Family::OtherEngineering => "civil, mechanical or electrical engineering",
            Family::DataScience => "data science and analytics",
            Family::ProductManagement => "product management",
            Family::Design => "design",
            Family::Nursing => "nursing and care",
            Family::Marketing => "marketing",
            Family::Sales => "sales",
            Family::Finance => "finance and accounting",
            Family::Teaching => "teaching",
            Family::Logistics => "logistics and driving",
            Family::Hospitality => "hospitality",
            Family::CustomerSupport => "customer support",
            Family::PeopleOps => "people operations",
            Family::Legal => "legal",
        }
    }

    /// How close two families are: the same, next to each other (a move people make:
    /// engineer ↔ engineering manager, marketing ↔ sales), or different. Data and ML
    /// *engineering* titles are software engineering; analyst and scientist roles, judged
    /// on statistics and BI, are a profession of their own.
    pub fn relation(self, other: Family) -> Relation {
        use Family::*;
        if self == other {
            return Relation::Same;
        }
        let pair = |a: Family, b: Family| (self == a && other == b) || (self == b && other == a);
        if pair(SoftwareEngineering, EngineeringManagement)
            || pair(EngineeringManagement, ProductManagement)
            || pair(ProductManagement, Design)
            || pair(Marketing, Sales)
            || pair(Sales, CustomerSupport)
            || pair(DataScience, ProductManagement)
        {
            Relation::Adjacent
        } else {
            Relation::Different
        }
    }
}

/// How two families relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Same,
    Adjacent,
    Different,
}

/// The family a title names, if any.
pub fn family_of_title(title: &str) -> Option<Family> {
    let t = format!(
        " {} ",
        title.to_lowercase().replace(['(', ')', '|', '-', '–', '—'], " ")
    );
    TITLES
        .iter()
        .find(|(_, words)| words.iter().any(|w| fits(&t, w)))
        .map(|(f, _)| *f)
}

/// A title word matches at a word start; a word given with a trailing space must end there.
fn fits(title: &str, word: &str) -> bool {
    let needle = format!(" {word}");
    let needle = if word.ends_with(' ') {
        needle
    } else {
        needle.trim_end().to_owned()
    };
    title.contains(&needle)
}

/// The family a text's concepts point at, with how many signals it saw.
pub fn family_of_text(text: &str) -> Option<(Family, usize)> {
    let found = lexicon::concepts(text);
    SIGNALS
        .iter()
        .map(|(f, names)| (*f, names.iter().filter(|n| found.contains(*n)).count()))
        .filter(|(_, n)| *n >= 2)
        .max_by_key(|(_, n)| *n)
}

/// A posting's family: its title's, else its text's.
pub fn family_of_posting(title: &str, text: &str) -> Option<Family> {
    family_of_title(title).or_else(|| family_of_text(text).map(|(f, _)| f))
}

/// Seniority levels, lowest first.
pub const SENIORITY: [&str; 10] = [
    "intern",
    "junior",
    "mid",
    "senior",
    "staff",
    "principal",
    "manager",
    "director",
    "vp",
    "c_level",
];

/// The seniority a title states; `mid` when it states none.
pub fn seniority_of_title(title: &str) -> &'static str {
    let t = format!(" {} ", title.to_lowercase().replace([',', '(', ')', '-', '|'], " "));
    let has = |w: &[&str]| w.iter().any(|x| t.contains(&format!(" {x} ")));
    // A nursing grade, not a level: "Staff Nurse" is a registered nurse, "Senior Staff
    // Nurse" (or "Charge Nurse", "Sister") one step up.
    if has(&["staff nurse", "charge nurse", "ward sister"]) {
        return if has(&["senior", "charge nurse", "ward sister"]) {
            "senior"
        } else {
            "mid"
        };
    }
    if has(&["cto", "ceo", "cfo", "coo", "chief"]) {
        "c_level"
    } else if has(&["vp", "vice president"]) {
        "vp"
    } else if has(&["director", "head"]) {
        "director"
    } else if has(&["manager"]) && !has(&["account manager", "product manager"]) {
        "manager"
    } else if has(&["principal", "distinguished"]) {
        "principal"
    } else if has(&["staff", "lead"]) {
        "staff"
    } else if has(&["senior", "sr", "sr.", "iii", "experienced"]) {
        "senior"
    } else if has(&[
        "junior",
        "jr",
        "jr.",
        "graduate",
        "entry",
        "associate",
        "trainee",
        "apprentice",
    ]) {
        "junior"
    } else if has(&["intern", "internship", "placement"]) {
        "intern"
    } else {
        "mid"
    }
}

/// The seniority a title states, or `None` when it states none (a bare "Data Engineer").
pub fn stated_seniority(title: &str) -> Option<&'static str> {
    let level = seniority_of_title(title);
    if level != "mid" {
        return Some(level);
    }
    let t = title.to_lowercase();
    ["mid", "intermediate", " ii", " 2", "band 5", "level 2"]
        .iter()
        .any(|w| t.contains(w))
        .then_some("mid")
}

/// A seniority's rank in [`SENIORITY`].
pub fn seniority_rank(level: &str) -> usize {
    SENIORITY.iter().position(|s| *s == level).unwrap_or(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_name_their_family_most_specific_first() {
        let f = |t: &str| family_of_title(t).map(Family::as_str);
        assert_eq!(f("Senior Backend Engineer (Go)"), Some("software_engineering"));
        assert_eq!(f("Engineering Manager, Platform"), Some("engineering_management"));
        assert_eq!(f("Senior Product Manager - Payments"), Some("product_management"));
        assert_eq!(f("Registered Nurse – Night Shift"), Some("nursing"));
        assert_eq!(f("Site Reliability Engineer"), Some("software_engineering"));
        assert_eq!(f("Machine Learning Engineer"), Some("software_engineering"));
        assert_eq!(f("Sales Engineer"), Some("sales"));
        assert_eq!(f("Civil Engineer"), Some("other_engineering"));
        assert_eq!(f("HGV Class 1 Driver"), Some("logistics"));
        assert_eq!(f("Wonderful opportunity"), None);
    }

    #[test]
    fn seniority_reads_the_title() {
        assert_eq!(seniority_of_title("Senior Backend Engineer"), "senior");
        assert_eq!(seniority_of_title("Staff Engineer, Infrastructure"), "staff");
        assert_eq!(seniority_of_title("Engineering Manager"), "manager");
        assert_eq!(seniority_of_title("Product Manager"), "mid");
        assert_eq!(seniority_of_title("Head of Data"), "director");
        assert_eq!(seniority_of_title("Graduate Software Developer"), "junior");
        assert_eq!(seniority_of_title("Backend Engineer"), "mid");
        assert_eq!(seniority_of_title("Senior Staff Nurse"), "senior");
        assert_eq!(seniority_of_title("Community Staff Nurse (Band 5)"), "mid");
    }

    #[test]
    fn families_relate() {
        use Family::*;
        assert_eq!(SoftwareEngineering.relation(EngineeringManagement), Relation::Adjacent);
        assert_eq!(SoftwareEngineering.relation(ProductManagement), Relation::Different);
        assert_eq!(Nursing.relation(Nursing), Relation::Same);
    }
}
